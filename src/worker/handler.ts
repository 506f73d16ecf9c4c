// The worker's side of the protocol: one session (GPU, model, dataset, trainer) answering
// requests. Each request gets exactly one reply; a thrown error becomes {name, message}.
import type { ModelTokenizer, PreparedDataset } from '../data';
import { TrainingPlan } from '../engine/train/plan';
import { GpuDeviceLostError } from '../gpu/errors';
import type { Gpu } from '../gpu/gpu';
import { loadDataset, loadTokenizer, trainValidationSplit } from './dataset';
import { adapterFiles, createTrainer, openGpu, readStartAdapter, type EngineModel, type TrainerLike } from './engine-bridge';
import { GenerateBridge } from './generate-bridge';
import { openModelSource } from './model-source';
import {
  toErrorInfo,
  type ErrorInfo,
  type FromWorker,
  type Methods,
  type ModelSummary,
  type Progress,
  type Request,
  type Result,
  type StartAdapterInfo,
  type TrainSettings,
  type WorkerEvent,
} from './protocol';
import { rpcServer, type RpcHandlers } from '../util/rpc';
import { DEFAULT_READ_OPTIONS, packDataset } from '../util/dataset-package';
import type { HostTensor } from '../engine/model/spec';
import { weightParams } from '../engine/model/weight-source';
import { expectedWeightShapes } from '../engine/model/weights';
import { RunControl, runTraining } from './run';
import { createRun, emptyHistory, getRun, loadCheckpoint, saveCheckpoint, saveRun, type RunHistory, type RunRecord } from './run-store';

/** A run's metrics up to (and including) `step`. */
function truncateHistory(h: RunHistory, step: number): RunHistory {
  const n = h.steps.findIndex((s) => s > step);
  const cut = n < 0 ? h.steps.length : n;
  return { steps: h.steps.slice(0, cut), loss: h.loss.slice(0, cut), lr: h.lr.slice(0, cut), gradNorm: h.gradNorm.slice(0, cut), val: h.val.filter(([s]) => s <= step) };
}

export class SessionError extends Error {
  override name = 'SessionError';
}

type Post = (msg: FromWorker, transfer?: Transferable[]) => void;

interface LoadedModel {
  summary: ModelSummary;
  engine: EngineModel;
  tokenizer: ModelTokenizer;
}

type Handlers = RpcHandlers<Methods>;

export class Handler {
  private gpu: Promise<Gpu> | null = null;
  private model: LoadedModel | null = null;
  private dataset: { prepared: PreparedDataset; bytes: ArrayBuffer; fileName: string; skipInvalid: boolean } | null = null;
  private trainer: TrainerLike | null = null;
  private trainerSettings: TrainSettings | null = null;
  private control: RunControl | null = null;
  /** The PEFT adapter the next run may start from (for the loaded model). */
  private startAdapter: { info: StartAdapterInfo; tensors: Map<string, HostTensor> } | null = null;
  /** "Try it": decoders borrowing this session's model and trainer (released with the trainer). */
  private generator: { gpu: Gpu; bridge: GenerateBridge } | null = null;
  private generateStop = false;

  constructor(private readonly post: Post) {}

  /** Answers one request (src/util/rpc.ts): exactly one reply; adapter bytes are transferred. */
  handle(req: Request): Promise<void> {
    this.serve ??= rpcServer<Methods, WorkerEvent, ErrorInfo>(this.handlers, this.post, {
      transfer: (method, result) => (method === 'exportAdapter' ? [(result as Result<'exportAdapter'>).safetensors] : []),
      toErrorInfo,
    });
    return this.serve(req);
  }

  private serve: ((req: Request) => Promise<void>) | null = null;

  private progress(id: number): (p: Progress) => void {
    return (progress) => this.post({ kind: 'event', type: 'progress', id, progress });
  }

  private getGpu(): Promise<Gpu> {
    this.gpu ??= openGpu().catch((e: unknown) => {
      this.gpu = null;
      throw e;
    });
    return this.gpu;
  }

  private releaseTrainer(): void {
    this.generator?.bridge.destroy();
    this.generator = null;
    this.trainer?.destroy();
    this.trainer = null;
    this.trainerSettings = null;
  }

  private readonly handlers: Handlers = {
    probe: async () => {
      const gpu = await this.getGpu();
      return {
        adapter: gpu.adapterName,
        features: [...gpu.features].sort(),
        maxBufferSize: gpu.limits.maxBufferSize,
        maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: gpu.limits.maxComputeWorkgroupStorageSize,
      };
    },

    loadModel: async ({ source }, id) => {
      if (this.control) throw new SessionError('stop training before loading another model');
      const report = this.progress(id);
      const opened = await openModelSource(source, report);
      const engine: EngineModel = { spec: opened.spec, weights: opened.weights };
      const tokenizer = await loadTokenizer(opened.folder);
      const s = engine.spec;
      const params = weightParams(engine.weights, expectedWeightShapes(s).keys());
      this.releaseTrainer();
      this.dataset = null;
      this.startAdapter = null;
      this.model = {
        engine,
        tokenizer,
        summary: {
          name: opened.name,
          hubId: opened.hubId,
          architecture: s.architecture,
          modelType: s.modelType,
          hiddenSize: s.hiddenSize,
          intermediateSize: s.intermediateSize,
          numLayers: s.numLayers,
          numHeads: s.numHeads,
          numKvHeads: s.numKvHeads,
          headDim: s.headDim,
          vocabSize: s.vocabSize,
          maxPositionEmbeddings: s.maxPositionEmbeddings,
          tieWordEmbeddings: s.tieWordEmbeddings,
          params,
          bytes: opened.weightBytes,
          randomWeights: opened.randomWeights,
          quant: opened.quant,
          hasChatTemplate: !tokenizer.templateIsDefault,
        },
      };
      return this.model.summary;
    },

    loadStartAdapter: async ({ name, config, safetensors }) => {
      if (!this.model) throw new SessionError('load a model first: an adapter is read for its shapes');
      if (this.control) throw new SessionError('stop training before choosing another adapter');
      this.startAdapter = null;
      const { lora, tensors, baseModel } = await readStartAdapter(this.model.engine.spec, name, config, safetensors);
      let params = 0;
      for (const t of tensors.values()) params += t.data.length;
      const info: StartAdapterInfo = { name, lora, baseModel, tensors: tensors.size, params };
      this.startAdapter = { info, tensors };
      return info;
    },

    loadDataset: async ({ fileName, bytes, skipInvalid, options, validation }, id) => {
      if (!this.model) throw new SessionError('load a model first: the dataset is tokenized with its tokenizer');
      if (this.control) throw new SessionError('stop training before changing the dataset');
      const report = this.progress(id);
      this.dataset = null;
      const train = { name: fileName, bytes: new Uint8Array(bytes) };
      const held = validation ? { name: validation.name, bytes: new Uint8Array(validation.bytes) } : null;
      const { prepared, summary } = await loadDataset(
        this.model.tokenizer,
        fileName,
        train.bytes,
        skipInvalid,
        (lines) => report({ phase: 'tokenize', label: fileName, done: lines, total: null, unit: 'examples' }),
        { options, validation: held },
      );
      // A run's record keeps the file with its options as one package (src/util/dataset-package.ts),
      // so a resumed run reads it the same way.
      const record = packDataset({ options: options ?? DEFAULT_READ_OPTIONS, train, validation: held });
      this.dataset = { prepared, bytes: record, fileName, skipInvalid };
      return summary;
    },

    train: async ({ settings, run }) => {
      const model = this.model;
      const dataset = this.dataset;
      if (!model) throw new SessionError('load a model before training');
      if (!dataset) throw new SessionError('load a dataset before training');
      if (this.control) throw new SessionError('a run is already in progress');
      const control = new RunControl();
      this.control = control;
      this.post({ kind: 'event', type: 'trainState', state: 'starting' });
      let record: RunRecord | null = null;
      try {
        const gpu = await this.getGpu();
        // Held-out examples: a validation file when one was given, else a seeded fraction.
        const { train, validation } = trainValidationSplit(dataset.prepared, settings.maxLength, settings.validationExamples, settings.train.seed);
        const pad = model.tokenizer.padId;
        // Step k's micro-batches are a pure function of k: a resumed run needs only the step.
        const plan = new TrainingPlan(train, {
          batchSize: settings.batchSize,
          gradAccum: settings.train.gradAccum,
          padId: pad,
          seed: settings.train.seed,
          maxSteps: settings.train.maxSteps,
          maxLength: settings.maxLength,
        });
        // Validation in batches no larger than training's, so any number of held-out examples fits.
        const valBatches = plan.batchesOf(validation);
        const maxSeq = valBatches.reduce((m, b) => Math.max(m, b.T), plan.maxSeq);
        // A run that starts from an adapter needs its tensors (a resumed one has its checkpoint).
        const wanted = run.resume ? null : (settings.startAdapter ?? null);
        if (wanted !== null && this.startAdapter?.info.name !== wanted) {
          throw new SessionError(`the adapter "${wanted}" to start from is not loaded: choose it again`);
        }
        this.releaseTrainer();
        const init = wanted !== null ? this.startAdapter!.tensors : undefined;
        const trainer = await createTrainer(gpu, model.engine, settings, plan.batchSize, maxSeq, init);
        this.trainer = trainer;
        this.trainerSettings = settings;

        // The run record, and where a resumed run continues from.
        const ckpt = run.resume ? await loadCheckpoint(run.id) : undefined;
        const prev = run.resume ? await getRun(run.id) : undefined;
        if (run.resume && (!ckpt || !prev)) throw new SessionError('the interrupted run has no checkpoint to resume from');
        let startStep = 0;
        if (ckpt && prev) {
          trainer.loadState({ step: ckpt.step, params: ckpt.params, m: ckpt.m, v: ckpt.v });
          startStep = ckpt.step;
          if (ckpt.pos !== undefined) {
            // Saved by a version whose batcher was a stream: this version's batch order differs.
            this.post({
              kind: 'event',
              type: 'log',
              level: 'warn',
              message: `This run was saved by an earlier version of LoRA Studio. It continues from step ${startStep} with this version's batch order, so its losses after step ${startStep} differ from what the uninterrupted run would have shown.`,
            });
          }
          record = { ...prev, status: 'running', error: null, history: truncateHistory(prev.history, ckpt.step) };
          this.post({ kind: 'event', type: 'history', history: record.history });
        } else {
          const now = new Date().toISOString();
          record = {
            id: run.id,
            status: 'running',
            startedAt: now,
            updatedAt: now,
            model: { ...run.model, name: model.summary.name, hubId: model.summary.hubId },
            dataset: { fileName: dataset.fileName, skipInvalid: dataset.skipInvalid, examples: dataset.prepared.examples.length },
            settings,
            form: run.form,
            history: emptyHistory(),
            checkpointStep: 0,
            error: null,
          };
          await createRun(record, dataset.bytes);
        }
        const rec = record;
        const h = rec.history;
        const result = await runTraining(
          trainer,
          plan,
          valBatches,
          settings,
          control,
          {
            onStep: (metrics) => {
              h.steps.push(metrics.step);
              h.loss.push(metrics.loss);
              h.lr.push(metrics.lr);
              h.gradNorm.push(metrics.gradNorm);
              this.post({ kind: 'event', type: 'step', metrics });
            },
            onEval: (step, valLoss) => {
              h.val.push([step, valLoss]);
              this.post({ kind: 'event', type: 'eval', step, valLoss });
            },
            onState: (state) => this.post({ kind: 'event', type: 'trainState', state }),
            checkpoint: async (step) => {
              const st = await trainer.saveState();
              await saveCheckpoint(rec, { runId: rec.id, step, params: st.params, m: st.m, v: st.v });
              rec.checkpointStep = step;
              this.post({ kind: 'event', type: 'checkpoint', step });
            },
          },
          startStep,
        );
        await saveRun({ ...rec, status: result.end });
        return result;
      } catch (e) {
        if (record) await saveRun({ ...record, status: 'failed', error: toErrorInfo(e) }).catch(() => undefined);
        if (e instanceof GpuDeviceLostError) {
          // Everything on that device is gone: the next run starts on a fresh one.
          this.trainer = null;
          this.trainerSettings = null;
          this.gpu = null;
        }
        throw e;
      } finally {
        this.control = null;
      }
    },

    pause: async () => {
      this.control?.pause();
      return null;
    },
    resume: async () => {
      this.control?.resume();
      return null;
    },
    stop: async () => {
      this.control?.stop();
      return null;
    },

    exportAdapter: async () => {
      if (!this.trainer || !this.trainerSettings || !this.model) throw new SessionError('train an adapter first');
      const tensors = await this.trainer.exportAdapter();
      const files = adapterFiles(this.model.engine.spec, this.trainerSettings, tensors, this.model.summary.hubId);
      const bytes = files.safetensors;
      const safetensors = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
      return { config: files.config, safetensors };
    },

    generate: async (params, id) => {
      const model = this.model;
      if (!model) throw new SessionError('load a model first');
      if (this.control && !this.control.pauseRequested) throw new SessionError('pause or stop training to try the model');
      if (this.generator?.bridge.busy) throw new SessionError('a generation is already running');
      const gpu = await this.getGpu();
      if (this.generator && this.generator.gpu !== gpu) {
        this.generator.bridge.destroy();
        this.generator = null;
      }
      this.generator ??= { gpu, bridge: new GenerateBridge(gpu, model.engine, model.tokenizer) };
      const run = this.trainer && this.trainerSettings ? { trainer: this.trainer, settings: this.trainerSettings } : null;
      this.generateStop = false;
      return this.generator.bridge.generate(
        params,
        run,
        (side, text, tokens, done) => this.post({ kind: 'event', type: 'generated', id, side, text, tokens, done }),
        () => this.generateStop,
      );
    },
    stopGenerate: async () => {
      this.generateStop = true;
      return null;
    },
  };
}
