// One training run inside the worker: the plan and validation batches of the loaded dataset, the
// trainer, the run's record and checkpoints in IndexedDB (the worker is their only writer), and
// the engine's loop (src/engine/train/loop.ts) in between. The handler only checks the session
// and hands over.
import type { ModelTokenizer, PreparedDataset } from '../data';
import { RunControl, runLoop, type TrainResult } from '../engine/train/loop';
import { TrainingPlan } from '../engine/train/plan';
import type { HostTensor } from '../engine/model/spec';
import type { Gpu } from '../gpu/gpu';
import { trainValidationSplit } from './dataset';
import { createTrainer, type EngineModel, type TrainerLike } from './engine-bridge';
import { toErrorInfo, type ErrorInfo, type FromWorker, type ModelSummary, type RunInfo, type TrainSettings } from './protocol';
import { checkpointBytes, createRun, emptyHistory, getRun, loadCheckpoint, saveCheckpoint, saveRun, type RunHistory, type RunRecord } from './run-store';

export { RunControl };

/** A run's metrics up to (and including) `step`. */
export function truncateHistory(h: RunHistory, step: number): RunHistory {
  const n = h.steps.findIndex((s) => s > step);
  const cut = n < 0 ? h.steps.length : n;
  return { steps: h.steps.slice(0, cut), loss: h.loss.slice(0, cut), lr: h.lr.slice(0, cut), gradNorm: h.gradNorm.slice(0, cut), val: h.val.filter(([s]) => s <= step) };
}

export interface RunInputs {
  gpu: Gpu;
  model: { engine: EngineModel; summary: ModelSummary; tokenizer: ModelTokenizer };
  dataset: { prepared: PreparedDataset; bytes: ArrayBuffer; fileName: string; skipInvalid: boolean };
  /** The start adapter's tensors when a new run starts from one. */
  initAdapter?: Map<string, HostTensor>;
  settings: TrainSettings;
  run: RunInfo;
  control: RunControl;
  post(msg: FromWorker): void;
  /** Frees the session's previous trainer, just before this run's is created. */
  releasePrevious(): void;
  /** The trainer as soon as it exists (the session keeps it for export and "Try it"). */
  onTrainer(t: TrainerLike): void;
}

/** Trains one run to its end, stop or error; the record says which. */
export async function trainRun(x: RunInputs): Promise<TrainResult> {
  const { settings, run, post } = x;
  let record: RunRecord | null = null;
  try {
    // Held-out examples: a validation file when one was given, else a seeded count (loop.ts's rule).
    const { train, validation } = trainValidationSplit(x.dataset.prepared, settings.maxLength, settings.validationExamples, settings.train.seed);
    // Step k's micro-batches are a pure function of k: a resumed run needs only the step.
    const plan = new TrainingPlan(train, {
      batchSize: settings.batchSize,
      gradAccum: settings.train.gradAccum,
      padId: x.model.tokenizer.padId,
      seed: settings.train.seed,
      maxSteps: settings.train.maxSteps,
      maxLength: settings.maxLength,
      packing: settings.packing === true,
    });
    // Validation in batches no larger than training's, so any number of held-out examples fits.
    const valBatches = plan.batchesOf(validation);
    const maxSeq = valBatches.reduce((m, b) => Math.max(m, b.T), plan.maxSeq);
    x.releasePrevious();
    const trainer = await createTrainer(x.gpu, x.model.engine, settings, plan.batchSize, maxSeq, x.initAdapter);
    x.onTrainer(trainer);

    // The run record, and where a resumed run continues from.
    const ckpt = run.resume ? await loadCheckpoint(run.id) : undefined;
    const prev = run.resume ? await getRun(run.id) : undefined;
    if (run.resume && (!ckpt || !prev)) throw new RunError('the interrupted run has no checkpoint to resume from');
    let startStep = 0;
    if (ckpt && prev) {
      trainer.loadState({ step: ckpt.step, params: ckpt.params, m: ckpt.m, v: ckpt.v });
      startStep = ckpt.step;
      if (ckpt.pos !== undefined) {
        // Saved by a version whose batcher was a stream: this version's batch order differs.
        post({
          kind: 'event',
          type: 'log',
          level: 'warn',
          message: `This run was saved by an earlier version of LoRA Studio. It continues from step ${startStep} with this version's batch order, so its losses after step ${startStep} differ from what the uninterrupted run would have shown.`,
        });
      }
      record = { ...prev, status: 'running', error: null, history: truncateHistory(prev.history, ckpt.step) };
      post({ kind: 'event', type: 'history', history: record.history });
    } else {
      const now = new Date().toISOString();
      record = {
        id: run.id,
        status: 'running',
        startedAt: now,
        updatedAt: now,
        model: { ...run.model, name: x.model.summary.name, hubId: x.model.summary.hubId },
        dataset: { fileName: x.dataset.fileName, skipInvalid: x.dataset.skipInvalid, examples: x.dataset.prepared.examples.length },
        settings,
        form: run.form,
        history: emptyHistory(),
        checkpointStep: 0,
        error: null,
      };
      await createRun(record, x.dataset.bytes, checkpointBytes(trainer.paramCount));
    }
    const rec = record;
    const h = rec.history;
    const result = await runLoop(
      trainer,
      plan,
      valBatches,
      { maxSteps: settings.train.maxSteps, checkpointEvery: settings.checkpointEvery, startStep },
      x.control,
      {
        onStep: (metrics) => {
          h.steps.push(metrics.step);
          h.loss.push(metrics.loss);
          h.lr.push(metrics.lr);
          h.gradNorm.push(metrics.gradNorm);
          post({ kind: 'event', type: 'step', metrics });
        },
        onEval: (step, valLoss) => {
          h.val.push([step, valLoss]);
          post({ kind: 'event', type: 'eval', step, valLoss });
        },
        onState: (state) => post({ kind: 'event', type: 'trainState', state }),
        checkpoint: async (step) => {
          const st = await trainer.saveState();
          await saveCheckpoint(rec, { runId: rec.id, step, params: st.params, m: st.m, v: st.v });
          rec.checkpointStep = step;
          post({ kind: 'event', type: 'checkpoint', step });
        },
      },
    );
    await saveRun({ ...rec, status: result.end });
    return result;
  } catch (e) {
    if (record) await saveRun({ ...record, status: 'failed', error: toErrorInfo(e) }).catch(() => undefined);
    throw e;
  }
}

/** Marks a stored run failed (kept and listed, not resumed again on every reload). */
export async function failStoredRun(id: string, error: ErrorInfo): Promise<void> {
  const record = await getRun(id);
  if (record) await saveRun({ ...record, status: 'failed', error });
}

/** A run that cannot start or continue as asked (no checkpoint to resume from). */
export class RunError extends Error {
  override name = 'RunError';
}
