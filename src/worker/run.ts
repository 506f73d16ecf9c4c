// One training run inside the worker: the plan and validation batches of the loaded dataset, the
// trainer, the run's record and checkpoints in IndexedDB (the worker is their only writer), and
// the engine's loop (src/engine/train/loop.ts) in between. The handler only checks the session
// and hands over.
import type { ModelTokenizer } from '../data';
import { isPreference } from '../engine/train/objective';
import { methodDataProblem } from '../settings/run-settings';
import { RunControl, runLoop, type TrainResult } from '../engine/train/loop';
import { TrainingPlan } from '../engine/train/plan';
import type { Batch } from '../engine/train/types';
import type { HostTensor, ModelSpec } from '../engine/model/spec';
import type { Gpu } from '../gpu/gpu';
import { GpuDeviceLostError, GpuError } from '../gpu/errors';
import { isPairData, trainValidationSplit, type LoadedData } from './dataset';
import { checkpointAdapter, createTrainer, type EngineModel, type TrainerLike } from './engine-bridge';
import { toErrorInfo, type ErrorInfo, type FromWorker, type ModelSummary, type RunInfo, type TrainSettings } from './protocol';
import { checkpointBytes, createRun, emptyHistory, getRun, loadCheckpoint, RunStoreQuotaError, saveCheckpoint, saveRun, type Checkpoint, type RunHistory, type RunRecord } from './run-store';


/** The dataset a run trains on; recorded: the package a run record keeps (dataset.ts recordPackage). */
export interface RunDataset {
  /** SFT examples, or preference pairs. */
  prepared: LoadedData;
  recorded: () => Blob;
  fileName: string;
  skipInvalid: boolean;
}

export { RunControl };

/** A run's metrics up to (and including) `step`. */
export function truncateHistory(h: RunHistory, step: number): RunHistory {
  const n = h.steps.findIndex((s) => s > step);
  const cut = n < 0 ? h.steps.length : n;
  return {
    steps: h.steps.slice(0, cut),
    loss: h.loss.slice(0, cut),
    lr: h.lr.slice(0, cut),
    gradNorm: h.gradNorm.slice(0, cut),
    val: h.val.filter(([s]) => s <= step),
    ...(h.metrics ? { metrics: h.metrics.slice(0, cut) } : {}),
    ...(h.valMetrics ? { valMetrics: h.valMetrics.filter(([s]) => s <= step) } : {}),
  };
}

/** A step's metrics with only their numbers (a metric the step could not compute is left out). */
function definedMetrics(m: Record<string, number | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'number') out[k] = v;
  return out;
}

export interface RunInputs {
  gpu: Gpu;
  model: { engine: EngineModel; summary: ModelSummary; tokenizer: ModelTokenizer };
  dataset: RunDataset;
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
    // The method and the data must agree (the page refuses this first; a resumed record is checked again).
    const preference = isPreference(settings.train.method ?? 'sft');
    const mismatch = methodDataProblem(settings.train.method ?? 'sft', isPairData(x.dataset.prepared));
    if (mismatch) throw new RunError(mismatch);
    // Held-out examples: a validation file when one was given, else a seeded count (loop.ts's rule).
    const { train, validation } = trainValidationSplit(x.dataset.prepared, settings.maxLength, settings.validationExamples, settings.train.seed, settings.maxPromptLength);
    // Step k's micro-batches are a pure function of k: a resumed run needs only the step.
    const plan = new TrainingPlan(train, {
      batchSize: settings.batchSize,
      gradAccum: settings.train.gradAccum,
      padId: x.model.tokenizer.padId,
      seed: settings.train.seed,
      maxSteps: settings.train.maxSteps,
      maxLength: settings.maxLength,
      packing: settings.packing === true && !preference,
    });
    // Validation in batches no larger than training's, so any number of held-out examples fits.
    const valBatches = plan.batchesOf(validation);
    const maxSeq = valBatches.reduce((m, b) => Math.max(m, b.T), plan.maxSeq);
    x.releasePrevious();
    // A preference micro-batch of batchSize pairs holds twice as many rows (as cli train sizes it).
    const trainer = await createTrainer(x.gpu, x.model.engine, settings, preference ? 2 * plan.batchSize : plan.batchSize, maxSeq, x.initAdapter);
    x.onTrainer(trainer);

    // The run record, and where a resumed run continues from.
    const ckpt = run.resume ? await loadCheckpoint(run.id) : undefined;
    const prev = run.resume ? await getRun(run.id) : undefined;
    if (run.resume && !prev) throw new RunError('the run to resume is no longer stored');
    // Interrupted before its first checkpoint: it starts over from step 0 (same plan, same seed,
    // so the same losses), which needs its start adapter again when it had one.
    if (run.resume && !ckpt && settings.startAdapter && !x.initAdapter) throw new RunError(`the run has no checkpoint yet and its start adapter "${settings.startAdapter}" is not loaded: choose it again`);
    let startStep = 0;
    if (prev && !ckpt) {
      record = { ...prev, status: 'running', error: null, checkpointStep: 0, history: emptyHistory() };
      post({ kind: 'event', type: 'history', history: record.history });
      await saveRun(record);
    } else if (ckpt && prev) {
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
      record = { ...prev, status: 'running', error: null, checkpointStep: ckpt.step, history: truncateHistory(prev.history, ckpt.step) };
      post({ kind: 'event', type: 'history', history: record.history });
      await saveRun(record); // running again: a reload from here resumes it
    } else {
      const now = new Date().toISOString();
      const created: RunRecord = {
        id: run.id,
        status: 'running',
        startedAt: now,
        updatedAt: now,
        model: { ...run.model, name: x.model.summary.name, hubId: x.model.summary.hubId },
        dataset: {
          fileName: x.dataset.fileName,
          skipInvalid: x.dataset.skipInvalid,
          examples: isPairData(x.dataset.prepared) ? x.dataset.prepared.pairs.length : x.dataset.prepared.examples.length,
          kind: isPairData(x.dataset.prepared) ? 'preference' : 'sft',
        },
        settings,
        form: run.form,
        history: emptyHistory(),
        checkpointStep: 0,
        error: null,
      };
      // A run refused here was never stored: nothing to mark paused or failed below.
      await createRun(created, x.dataset.recorded(), checkpointBytes(trainer.paramCount));
      record = created;
    }
    const rec = record;
    const h = rec.history;
    // A preference run's validation reports TRL's metrics beside the loss (the trainer's evaluate).
    const loopTrainer = preference ? trainer : { step: (m: Batch[]) => trainer.step(m), evalLoss: (b: Batch) => trainer.evalLoss(b) };
    const result = await runLoop(
      loopTrainer,
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
          if (metrics.metrics) (h.metrics ??= []).push(definedMetrics(metrics.metrics));
          post({ kind: 'event', type: 'step', metrics });
        },
        onEval: (step, valLoss, metrics) => {
          h.val.push([step, valLoss]);
          if (metrics) (h.valMetrics ??= []).push([step, metrics]);
          post({ kind: 'event', type: 'eval', step, valLoss, ...(metrics ? { metrics } : {}) });
        },
        onState: (state) => post({ kind: 'event', type: 'trainState', state }),
        checkpoint: async (step) => {
          const st = await trainer.saveState();
          await saveCheckpoint(rec, { runId: rec.id, step, params: st.params, m: st.m, v: st.v });
          post({ kind: 'event', type: 'checkpoint', step });
        },
      },
    );
    await saveRun({ ...rec, status: result.end });
    return result;
  } catch (e) {
    // A lost device, or a write the browser refused for lack of space, pauses the run at its last
    // checkpoint (resumable, exportable, not resumed by a reload); anything else fails it.
    const lost = await deviceWasLost(x.gpu, e);
    const error = lost ?? e;
    if (record) {
      const paused = lost !== null || error instanceof RunStoreQuotaError;
      const recorded = await saveRun(stoppedRecord(record, paused ? 'paused' : 'failed', error)).then(
        () => true,
        () => false,
      );
      if (error instanceof RunStoreQuotaError) {
        error.message += quotaOutcome(record.checkpointStep, recorded);
        // Before the error's reply: where the paused record was refused, the page keeps the pause
        // itself (src/state/run-pause-notes.ts), so a reload does not resume the run into the refusal.
        post({ kind: 'event', type: 'quotaPause', runId: record.id, checkpointStep: record.checkpointStep, recorded });
      }
    }
    throw error;
  }
}

/**
 * The record of a run stopped by `error`. A paused run keeps its metrics up to its checkpoint, as
 * a resume does (truncateHistory): the record is smaller, so it is likelier to be written when the
 * browser's storage is full, which is what paused it.
 */
function stoppedRecord(record: RunRecord, status: 'paused' | 'failed', error: unknown): RunRecord {
  const history = status === 'paused' ? truncateHistory(record.history, record.checkpointStep) : record.history;
  return { ...record, status, error: toErrorInfo(error), history };
}

/** What became of a run stopped by a refused write, for the quota error's message on the page. */
function quotaOutcome(checkpointStep: number, recorded: boolean): string {
  // The page says what it did instead (notePausedRun, src/state/run-pause-notes.ts).
  if (!recorded) return ' Its paused state could not be written either.';
  const at = checkpointStep > 0 ? `its checkpoint at step ${checkpointStep}` : 'its start (no checkpoint yet)';
  return ` The run is paused at ${at}: free space, then resume it from Past runs${checkpointStep > 0 ? ' (or export that checkpoint)' : ''}.`;
}

/**
 * `e` as a GpuDeviceLostError when the device was lost, else null. A step or read-back on a lost
 * device may reject (AbortError, "mapping failed") before `device.lost` settles, so an error is
 * classified by waiting briefly for `device.lost` rather than by its type alone.
 */
export async function deviceWasLost(gpu: Gpu, e: unknown): Promise<GpuDeviceLostError | null> {
  if (e instanceof GpuDeviceLostError) return e;
  // Only what the GPU layer throws can come from a loss (not a dataset, quota or divergence error).
  if (!(e instanceof GpuError) && !(typeof DOMException !== 'undefined' && e instanceof DOMException)) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const info = await Promise.race([gpu.device.lost, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), LOST_SETTLE_MS)))]);
  clearTimeout(timer);
  return info ? new GpuDeviceLostError(`GPU device lost (${info.reason}: ${info.message || 'no message'})`) : null;
}

/** How long an error waits for `device.lost` to settle before it counts as not a device loss. */
const LOST_SETTLE_MS = 1000;

/** Marks a stored run failed (kept and listed, not resumed again on every reload). */
export async function failStoredRun(id: string, error: ErrorInfo): Promise<void> {
  const record = await getRun(id);
  if (record) await saveRun({ ...record, status: 'failed', error });
}

/** A stored run's record and last checkpoint; RunError when either is gone. */
export async function storedCheckpoint(id: string): Promise<{ record: RunRecord; ckpt: Checkpoint }> {
  const record = await getRun(id);
  if (!record) throw new RunError('the run is no longer stored');
  const ckpt = await loadCheckpoint(id);
  if (!ckpt) throw new RunError(`the run has no checkpoint to export (it stopped before its first one, step ${record.settings.checkpointEvery || record.settings.train.maxSteps})`);
  return { record, ckpt };
}

/** A stored run's last checkpoint as a PEFT adapter (no GPU needed): for the loaded model `spec`. */
export async function storedRunAdapter(id: string, spec: ModelSpec, hubId: string | null): Promise<{ config: string; safetensors: Uint8Array }> {
  const { record, ckpt } = await storedCheckpoint(id);
  return checkpointAdapter(spec, record.settings, ckpt.params, hubId);
}

/** A run that cannot start or continue as asked (no checkpoint to resume from). */
export class RunError extends Error {
  override name = 'RunError';
}
