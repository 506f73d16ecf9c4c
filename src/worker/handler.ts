// The worker's side of the protocol: one session (GPU, model, dataset, trainer) answering
// requests. Each request gets exactly one reply; a thrown error becomes {name, message}.
import type { ModelTokenizer, RecordFile } from '../data';
import { GpuDeviceLostError, GpuUnavailableError } from '../gpu/errors';
import type { Gpu } from '../gpu/gpu';
import { loadDataset, loadTokenizer, recordPackage, trainValidationSplit, type LoadedData } from './dataset';
import { adapterFiles, greedyWithAdapter, openGpu, readStartAdapter, type EngineModel, type TrainerLike } from './engine-bridge';
import { GenerateBridge, promptIds, stopTokenIds } from './generate-bridge';
import { OnnxBridge } from './onnx-bridge';
import type { OnnxQuant } from '../export/onnx/decoder';
import { openModelSource } from './model-source';
import { memoryFolder, type ModelFolder } from '../engine/model/weights';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../engine/lora/adapter';
import { ggufZip } from '../export/gguf/blobs';
import {
  toErrorInfo,
  type ErrorInfo,
  type FromWorker,
  type GenerateSide,
  type Method,
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
import { DEFAULT_READ_OPTIONS } from '../util/dataset-package';
import type { HostTensor } from '../engine/model/spec';
import { RunControl, failStoredRun, storedCheckpoint, storedRunAdapter, trainRun, type RunDataset } from './run';
import { deleteRun, getRun } from './run-store';
import { studioRecipeZip } from '../export/recipe/studio';
import { weightParams } from '../engine/model/weight-source';
import { expectedWeightShapes } from '../engine/model/weights';

export class SessionError extends Error {
  override name = 'SessionError';
}

/** The run's GPU device was lost and the run could not continue: it is kept, paused at its checkpoint. */
export class RunPausedError extends Error {
  override name = 'RunPausedError';
}

/** Device losses one run survives before it stays paused (a device lost again and again is broken). */
const MAX_DEVICE_LOSSES = 3;

/** The bytes as a whole ArrayBuffer of their own (transferable to the page). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
}

type Post = (msg: FromWorker, transfer?: Transferable[]) => void;

interface LoadedModel {
  summary: ModelSummary;
  engine: EngineModel;
  tokenizer: ModelTokenizer;
  /** The folder it came from (the web and GGUF exports copy or read its config and tokenizer files). */
  folder: ModelFolder;
}

type Handlers = RpcHandlers<Methods>;

export class Handler {
  private gpu: Promise<Gpu> | null = null;
  private model: LoadedModel | null = null;
  private dataset: RunDataset | null = null;
  private trainer: TrainerLike | null = null;
  private trainerSettings: TrainSettings | null = null;
  private control: RunControl | null = null;
  /** The PEFT adapter the next run may start from (for the loaded model). */
  private startAdapter: { info: StartAdapterInfo; tensors: Map<string, HostTensor> } | null = null;
  /** "Try it": decoders borrowing this session's model and trainer (released with the trainer). */
  private generator: { gpu: Gpu; bridge: GenerateBridge } | null = null;
  private generateStop = false;
  /** Test hook (testLoseDevice): the step after which the run's device is destroyed, and whether none comes back. */
  private loseDeviceAt: number | null = null;
  private testNoDevice = false;
  private activeRunId: string | null = null;
  /** The last web (ONNX) export of this session's model and run, run with onnxruntime-web. */
  private readonly onnx = new OnnxBridge();

  constructor(private readonly post: Post) {}

  /** Answers one request (src/util/rpc.ts): exactly one reply; adapter and export bytes are transferred. */
  handle(req: Request): Promise<void> {
    this.serve ??= rpcServer<Methods, WorkerEvent, ErrorInfo>(this.handlers, this.post, {
      transfer: (method, result) =>
        method === 'exportAdapter'
          ? [(result as Result<'exportAdapter'>).safetensors]
          : method === 'exportRecipe'
              ? [(result as Result<'exportRecipe'>).zip]
              : [],
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

  /**
   * After a device loss: everything on that device is gone. Says so on the page, then asks for a
   * new device (the caller's next getGpu); gives up with RunPausedError after MAX_DEVICE_LOSSES or
   * when none comes back, leaving the run paused at its checkpoint (resume or export it later).
   */
  private async onDeviceLost(runId: string, e: GpuDeviceLostError, lost: number, control: RunControl): Promise<boolean> {
    this.releaseTrainer();
    this.gpu = null;
    // Lost before its record was written, the run simply starts again.
    const record = await getRun(runId).catch(() => undefined);
    const at = record?.checkpointStep ?? 0;
    const from = at > 0 ? `its checkpoint at step ${at}` : 'its start (no checkpoint yet)';
    const reason = e.message.replace(/^GPU device lost \((.*)\)$/s, '$1');
    const paused = (why: string) =>
      new RunPausedError(`The GPU device was lost (${reason}) ${why}. The run is paused at ${from}: resume it or export that checkpoint as an adapter from Past runs.`);
    if (control.stopRequested) throw paused('and the run was stopped');
    if (lost > MAX_DEVICE_LOSSES) throw paused(`${lost} times in this run`);
    this.post({ kind: 'event', type: 'trainState', state: 'paused' });
    this.post({ kind: 'event', type: 'log', level: 'warn', message: `The GPU device was lost (${reason}). The run is paused at ${from}; a new GPU device is being requested to continue from there.` });
    try {
      if (this.testNoDevice) throw new GpuUnavailableError('test hook: no device came back');
      await this.getGpu();
    } catch (e2) {
      throw paused(`and no new device could be had (${(e2 as Error).message})`);
    }
    this.post({ kind: 'event', type: 'trainState', state: 'starting' });
    this.post({ kind: 'event', type: 'log', level: 'warn', message: `The GPU device was lost (${reason}); the run continues on a new device from ${from}.` });
    return record !== undefined;
  }

  /** A run's events, and the test hook: destroys the device after step `loseDeviceAt` (one shot). */
  private postRun(gpu: Gpu, msg: FromWorker): void {
    this.post(msg);
    if (msg.kind === 'event' && msg.type === 'step' && msg.metrics.step === this.loseDeviceAt) {
      this.loseDeviceAt = null;
      gpu.device.destroy();
    }
  }

  private releaseTrainer(): void {
    this.onnx.reset();
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
        folder: opened.folder,
        summary: {
          name: opened.name,
          hubId: opened.hubId,
          params,
          bytes: opened.weightBytes,
          randomWeights: opened.randomWeights,
          quant: opened.quant,
          hasChatTemplate: !tokenizer.templateIsDefault,
          spec: s,
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

    loadDataset: async ({ fileName, bytes, files, skipInvalid, options, validation, hub }, id) => {
      if (!this.model) throw new SessionError('load a model first: the dataset is tokenized with its tokenizer');
      if (this.control) throw new SessionError('stop training before changing the dataset');
      const report = this.progress(id);
      this.dataset = null;
      const held = validation ? { name: validation.name, bytes: new Uint8Array(validation.bytes) } : null;
      // .parquet files come as Blobs (one file, or a Hub split's shards in order) and are read as one
      // source by byte ranges (rows of the total over all files); a text file as bytes.
      const data: RecordFile[] = files?.length ? files.map((f) => ({ name: f.name, data: f.blob })) : [{ name: fileName, data: new Uint8Array(bytes) }];
      const { prepared, summary } = await loadDataset(
        this.model.tokenizer,
        fileName,
        data,
        skipInvalid,
        (p) =>
          report(
            p.totalRows !== undefined
              ? { phase: 'tokenize', label: fileName, done: p.rows, total: p.totalRows, unit: 'rows' }
              : { phase: 'tokenize', label: fileName, done: p.lines, total: null, unit: 'examples' },
          ),
        { options, validation: held },
      );
      // A run's record keeps the files with their options and Hub origin (read for it only when a run or a recipe needs them).
      const recorded = () => recordPackage(data, options ?? DEFAULT_READ_OPTIONS, held, hub ?? null);
      this.dataset = { prepared, recorded, fileName, skipInvalid };
      return summary;
    },

    train: async ({ settings, run }) => {
      const model = this.model;
      const dataset = this.dataset;
      if (!model) throw new SessionError('load a model before training');
      if (!dataset) throw new SessionError('load a dataset before training');
      if (this.control) throw new SessionError('a run is already in progress');
      // A run that starts from an adapter needs its tensors (a resumed one has its checkpoint).
      const wanted = run.resume ? null : (settings.startAdapter ?? null);
      if (wanted !== null && this.startAdapter?.info.name !== wanted) {
        throw new SessionError(`the adapter "${wanted}" to start from is not loaded: choose it again`);
      }
      const control = new RunControl();
      this.control = control;
      this.post({ kind: 'event', type: 'trainState', state: 'starting' });
      const initAdapter = wanted !== null ? this.startAdapter!.tensors : undefined;
      try {
        // A lost device pauses the run: a new device is requested and the run continues from its
        // last checkpoint (the same losses as without the loss: the plan is a function of the step).
        this.activeRunId = run.id;
        for (let lost = 0, stored = run.resume; ; ) {
          const gpu = await this.getGpu();
          try {
            return await trainRun({
              gpu,
              model,
              dataset,
              initAdapter,
              settings,
              run: { ...run, resume: stored },
              control,
              post: (msg) => this.postRun(gpu, msg),
              releasePrevious: () => this.releaseTrainer(),
              onTrainer: (trainer) => {
                this.trainer = trainer;
                this.trainerSettings = settings;
              },
            });
          } catch (e) {
            if (!(e instanceof GpuDeviceLostError)) throw e;
            lost++;
            stored = await this.onDeviceLost(run.id, e, lost, control);
          }
        }
      } finally {
        this.control = null;
        this.activeRunId = null;
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

    failRun: async ({ id, error }) => {
      await failStoredRun(id, error);
      return null;
    },

    testLoseDevice: async ({ atStep, noDevice }) => {
      this.loseDeviceAt = atStep;
      this.testNoDevice = noDevice;
      return null;
    },

    deleteRun: async ({ id }) => {
      if (this.control && this.activeRunId === id) throw new SessionError('stop this run before deleting it');
      await deleteRun(id);
      return null;
    },

    exportAdapter: async ({ runId }) => {
      if (runId !== undefined) {
        // A stored run's checkpoint, without a GPU (its device may be gone).
        if (!this.model) throw new SessionError("load the run's model first: the adapter is written for its shapes");
        const files = await storedRunAdapter(runId, this.model.engine.spec, this.model.summary.hubId);
        return { config: files.config, safetensors: ownBuffer(files.safetensors) };
      }
      if (!this.trainer || !this.trainerSettings || !this.model) throw new SessionError('train an adapter first');
      const tensors = await this.trainer.exportAdapter();
      const files = adapterFiles(this.model.engine.spec, this.trainerSettings, tensors, this.model.summary.hubId);
      return { config: files.config, safetensors: ownBuffer(files.safetensors) };
    },

    exportOnnx: async ({ backend }) => {
      if (!this.trainer || !this.trainerSettings || !this.model) throw new SessionError('train an adapter first');
      const quant = this.model.summary.quant;
      if (quant !== 'none' && quant !== 'int8' && quant !== 'int4') throw new SessionError(`the base is stored as ${quant}, which the web export does not cover`);
      const { spec, weights } = this.model.engine;
      const adapter = adapterFiles(spec, this.trainerSettings, await this.trainer.exportAdapter(), this.model.summary.hubId);
      return this.onnx.export(spec, weights, this.model.folder, adapter, quant as OnnxQuant, backend);
    },

    checkOnnx: async ({ prompt, maxNewTokens }) => {
      const model = this.model;
      const trainer = this.trainer;
      if (!model || !trainer) throw new SessionError('train an adapter first');
      if (this.control && !this.control.pauseRequested) throw new SessionError('pause or stop training to check the export');
      const share = trainer.gpuShare?.();
      if (!share || !trainer.logits) throw new SessionError('this run cannot lend its weights for the check');
      const gpu = await this.getGpu();
      const ids = promptIds(model.tokenizer, prompt);
      const stop = stopTokenIds(model.tokenizer, model.engine.spec.eosTokenId);
      const logits = trainer.logits.bind(trainer);
      return this.onnx.check(
        ids,
        maxNewTokens,
        stop,
        {
          greedy: (p, n) => greedyWithAdapter(gpu, model.engine.spec, share, p, n, stop),
          promptLogits: (p) => {
            const inputIds = Int32Array.from(p);
            return logits({ B: 1, T: p.length, inputIds, attentionMask: new Int32Array(p.length).fill(1), labels: inputIds });
          },
        },
        (t) => model.tokenizer.decode(t, true),
      );
    },

    exportGguf: async ({ format, type }) => {
      if (!this.trainer || !this.trainerSettings || !this.model) throw new SessionError('train an adapter first');
      const files = adapterFiles(this.model.engine.spec, this.trainerSettings, await this.trainer.exportAdapter(), this.model.summary.hubId);
      const adapter = memoryFolder('adapter', { [ADAPTER_CONFIG_FILE]: files.config, [ADAPTER_WEIGHTS_FILE]: files.safetensors });
      const m = this.model;
      return ggufZip({ ...m.engine, folder: m.folder, name: m.summary.name }, adapter, format, type);
    },

    exportRecipe: async ({ runId, hubDataset }) => {
      // A stored run: its checkpoint's adapter and moments replace the start adapter (no GPU needed).
      const stored = runId !== undefined ? await storedCheckpoint(runId) : null;
      if (stored && this.dataset?.fileName !== stored.record.dataset.fileName) throw new SessionError(`load the run's dataset (${stored.record.dataset.fileName}) first`);
      const settings = stored?.record.settings ?? this.trainerSettings;
      if (!settings || !this.model || !this.dataset) throw new SessionError('train an adapter first: the recipe is the job of the last run');
      const wanted = stored ? null : (settings.startAdapter ?? null);
      if (wanted !== null && this.startAdapter?.info.name !== wanted) throw new SessionError(`the adapter "${wanted}" the run started from is not loaded: choose it again`);
      const zip = studioRecipeZip({
        settings,
        spec: this.model.engine.spec,
        padId: this.model.tokenizer.padId,
        prepared: this.dataset.prepared,
        source: hubDataset ? { hub: hubDataset } : { name: this.dataset.fileName, bytes: new Uint8Array(await this.dataset.recorded().arrayBuffer()) },
        skipInvalid: this.dataset.skipInvalid,
        start: wanted !== null ? { tensors: this.startAdapter!.tensors, from: wanted } : undefined,
        fromRun: stored ? { from: `the run started ${stored.record.startedAt}`, state: stored.ckpt } : undefined,
        hubId: this.model.summary.hubId,
        modelName: this.model.summary.name,
      });
      return { zip: zip.buffer };
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
      const emit = (side: GenerateSide, text: string, tokens: number, done: boolean): void => this.post({ kind: 'event', type: 'generated', id, side, text, tokens, done });
      const result = await this.generator.bridge.generate(params, run, emit, () => this.generateStop);
      if (!this.onnx.ready) return result;
      // The web export's side: the same prompt, settings and seed through onnxruntime-web.
      const { decoder } = await this.onnx.session();
      const t0 = performance.now();
      let firstMs: number | null = null;
      const out = await decoder.generate(
        promptIds(model.tokenizer, params.prompt),
        { temperature: params.temperature, topP: params.topP, maxNewTokens: params.maxNewTokens, seed: params.seed, stopIds: stopTokenIds(model.tokenizer, model.engine.spec.eosTokenId) },
        (ids) => {
          firstMs ??= performance.now() - t0;
          emit('onnx', model.tokenizer.decode([...ids], true), ids.length, false);
        },
        () => this.generateStop,
      );
      const ms = performance.now() - t0;
      const text = model.tokenizer.decode(out.ids, true);
      emit('onnx', text, out.ids.length, true);
      const n = out.ids.length;
      const after = firstMs === null ? 0 : ms - firstMs;
      return { ...result, onnx: { text, tokens: n, reason: out.reason, ms, tokensPerSec: n > 1 && after > 0 ? ((n - 1) * 1000) / after : null } };
    },
    stopGenerate: async () => {
      this.generateStop = true;
      return null;
    },
  };
}
