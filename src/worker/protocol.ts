// The engine worker's methods and events (client.ts on the page, handler.ts in the worker), over
// the one typed RPC layer of every worker (src/util/rpc.ts).
//
// - A request carries an `id`; exactly one reply with the same id answers it, `ok` with the
//   method's result or `error` as {name, message} (names are the engine's typed error names:
//   GpuUnavailableError, GpuOutOfMemoryError, DatasetError, …; the UI matches on them).
// - While a request runs the worker may send `progress` events with that id (structured: phase,
//   done, total, unit), and `train` events (one per optimizer step, not tied to an id).
// - Large buffers (model files, adapter bytes) are transferred, never copied.
import type { HubDatasetSource } from '../hub/datasets';
import type { ModelSpec } from '../engine/model/spec';
import type { LoraHyper, TrainHyper } from '../engine/train/types';
import type { RunHistory } from './run-store';
import type { StepMetrics, TrainResult, TrainState } from '../engine/train/loop';
/** The training loop's types (src/engine/train/loop.ts), as the protocol carries them. */
export type { StepMetrics, TrainEnd, TrainResult, TrainState } from '../engine/train/loop';
import type { DatasetReadOptions } from '../util/dataset-package';
import type { DetailedSummary } from './dataset';
import { recordPlace, type DataIssue } from '../data/errors';
import { RpcError, toRpcErrorInfo, type MethodOf, type ParamsOf, type ResultOf, type RpcReply, type RpcRequest } from '../util/rpc';

export interface ErrorInfo {
  name: string;
  message: string;
  /** A refused dataset: its first bad records (MAX_LISTED_ISSUES) with their reasons. */
  lines?: LineError[];
  /** All its bad records, when more than `lines` lists. */
  linesTotal?: number;
}

// ---------------------------------------------------------------------------------------------
// Payloads

export interface GpuInfo {
  adapter: string;
  features: string[];
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
}

/**
 * Where a model comes from: the demo shipped in public/, or the model library (IndexedDB; Hub
 * downloads and picked files are imported there first, by src/hub's import worker).
 */
export type ModelSource = { kind: 'demo'; baseUrl: string } | { kind: 'stored'; key: string };

export interface ModelSummary {
  /** Display name: the Hub id, the folder name, or "Demo model". */
  name: string;
  /** The Hub id when known: goes into adapter_config.json as base_model_name_or_path. */
  hubId: string | null;
  /** Parameters of the base model and bytes of its weight files. */
  params: number;
  bytes: number;
  /** The demo ships random weights: the UI says so. */
  randomWeights: boolean;
  /** How the library stores the base weights (none, int8, int4); training uses them dequantized. */
  quant: string;
  hasChatTemplate: boolean;
  /** The engine's model spec: its shapes for the page, and the GPU memory estimate training is gated with (engine/train/memory.ts). */
  spec: ModelSpec;
}

export interface LineError {
  /** 1-based line of the uploaded file. */
  line: number;
  /** A JSON array's record: its 0-based index. */
  index?: number;
  /** A Parquet row's place, `train-00001.parquet: row 8 (row group 2)` (then `line` is row + 1 in that file). */
  place?: string;
  message: string;
}

export interface PreviewToken {
  text: string;
  id: number;
  /** Counted in the loss (an assistant or completion token), else masked. */
  trained: boolean;
}

/** A preference pair in the preview: the prompt (never trained) and the two completions, side by side. */
export interface PairPreview {
  /** 1-based line of the record in the file. */
  line: number;
  prompt: PreviewToken[];
  chosen: PreviewToken[];
  rejected: PreviewToken[];
}

export interface DatasetSummary {
  fileName: string;
  /** As detected by src/data: messages, sharegpt, completion, alpaca or text; 'preference' for chosen / rejected pairs. */
  format: string;
  examples: number;
  /** Bad lines that were skipped (only when the user chose to skip them): the first MAX_LISTED_ISSUES. */
  skipped: LineError[];
  /** All the bad lines skipped. */
  skippedTotal: number;
  /** What the user should know (the default chat template was used, …). */
  warnings: string[];
  tokens: number;
  trainedTokens: number;
  longestExample: number;
  meanTokens: number;
  histogram: { edges: number[]; counts: number[] };
  /** The first examples, tokenized, with their mask (empty for preference data: see `pairs`). */
  preview: PreviewToken[][];
  /** Preference data (DPO, IPO, ORPO): TRL's shape of the file and its first pairs; absent for SFT data. `examples` counts pairs. */
  pairs?: { shape: string; preview: PairPreview[] };
}

export interface TrainSettings {
  /**
   * The LoRA settings; with startAdapter, the adapter's own (its rank, alpha, targets and patterns,
   * the form's dropout).
   */
  lora: LoraHyper;
  /**
   * Name of the PEFT adapter the run starts from (loaded with loadStartAdapter), or null/absent for
   * PEFT's fresh initialisation.
   */
  startAdapter?: string | null;
  train: TrainHyper;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Tokens per sequence (longer examples are truncated). */
  maxLength: number;
  /** Preference data: the prompt's kept tokens (TRL's max_prompt_length); absent = half of maxLength. */
  maxPromptLength?: number;
  /** Several examples per row of maxLength tokens (TrainingPlan's packing); absent in runs saved before it = off. */
  packing?: boolean;
  /** Optimizer steps between checkpoints into IndexedDB (0 = only at the end and on stop). */
  checkpointEvery: number;
  /** Examples held out for validation loss (0 = none; at most a fifth of the dataset). */
  validationExamples: number;
}

/** What the run record keeps about where the run's inputs came from. */
export interface RunInfo {
  id: string;
  resume: boolean;
  model: { source: ModelSource; label: string };
  /** The page's settings form (opaque to the worker), shown again when the run resumes. */
  form: unknown;
}

/** A PEFT adapter the next run can start from, as the worker read it for the loaded model. */
export interface StartAdapterInfo {
  /** The folder (or first file) name it was picked as. */
  name: string;
  /** Its r, alpha, targets, rsLoRA, rank/alpha patterns and layers (dropout: its lora_dropout). */
  lora: LoraHyper;
  /** base_model_name_or_path from its config. */
  baseModel: string | null;
  tensors: number;
  params: number;
}


export interface AdapterFiles {
  /** adapter_config.json text. */
  config: string;
  /** adapter_model.safetensors bytes (transferred). */
  safetensors: ArrayBuffer;
}

export interface GenerateParams {
  /** The user's message. */
  prompt: string;
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]. */
  topP: number;
  maxNewTokens: number;
  /** Seed of the sampling RNG (the same for both outputs). */
  seed: number;
}

/** Which side of "Try it" an output belongs to (onnx: the web export in onnxruntime-web). */
export type GenerateSide = 'base' | 'adapter' | 'onnx';

export interface GenerateOutput {
  text: string;
  tokens: number;
  /** stop: an end-of-turn / EOS token; length: max new tokens; context: the context is full. */
  reason: 'stop' | 'length' | 'context' | 'cancelled';
  /** Decoding time (prefill included) and tokens per second after the first token. */
  ms: number;
  tokensPerSec: number | null;
}

export interface GenerateResult {
  promptTokens: number;
  base: GenerateOutput;
  /** null when there is no adapter yet (no run in this session). */
  adapter: GenerateOutput | null;
  /** The web (ONNX) export run in onnxruntime-web; absent until the model is exported for the web. */
  onnx?: GenerateOutput | null;
}

/** Which onnxruntime-web backend runs the web export in the page. */
export type OnnxBackend = 'auto' | 'wasm';

/** "For the web (ONNX)": the Transformers.js folder as a .zip, in chunks (transferred). */
export interface OnnxExportInfo {
  /** The .zip, held by the browser as Blobs (the page never copies its bytes). */
  zip: Blob;
  files: string[];
  bytes: number;
  /** none, int8 or int4: the base as the session holds it. */
  quant: string;
  /** Transformers.js's name of that dtype (fp32, q8, q4): it names the folder "Push to the Hub" sends. */
  dtype: string;
}

/** "Check the export": one prompt greedy through the engine and through onnxruntime-web. */
export interface OnnxCheckResult {
  /** onnxruntime-web's backend: webgpu or wasm. */
  backend: string;
  promptTokens: number;
  engine: { ids: number[]; text: string };
  onnx: { ids: number[]; text: string };
  agree: boolean;
  /** Largest |engine - onnx| over the prompt's logits (every position, every token). */
  maxPromptLogitDiff: number;
}

// ---------------------------------------------------------------------------------------------
// Methods: params and result of each request.

export type Methods = {
  probe: { params: Record<string, never>; result: GpuInfo };
  loadModel: { params: { source: ModelSource }; result: ModelSummary };
  /**
   * bytes: the file's contents (transferred); files: .parquet files instead (bytes then empty):
   * one chosen file, or a Hub split's shards in order, read as one source by byte ranges, never
   * whole, each record naming its file; options: how to read it (default: detected format,
   * assistant tokens); validation: a held-out file read the same way (transferred). Refused with a
   * DatasetError listing `lines` when a record is bad, unless skipInvalid; hub: the Hub split the
   * files are, kept with them in a run's record.
   */
  loadDataset: {
    params: { fileName: string; bytes: ArrayBuffer; files?: { name: string; blob: Blob }[]; skipInvalid: boolean; options?: DatasetReadOptions; validation?: { name: string; bytes: ArrayBuffer } | null; hub?: HubDatasetSource | null };
    /** With the per-example details the page computes truncation counts from (src/worker/dataset.ts). */
    result: DetailedSummary;
  };
  /**
   * Resolves when the run ends (finished or stopped); a failure rejects with the error. The run is
   * recorded in IndexedDB under `run.id` (src/worker/run-store.ts) with checkpoints; with
   * `run.resume` it continues from that run's last checkpoint instead of starting over.
   */
  /**
   * Reads a PEFT adapter (adapter_config.json text + adapter_model.safetensors bytes, transferred)
   * for the loaded model and keeps it for the next run (settings.startAdapter = its name). Refused
   * with an AdapterError naming the file, field or tensor that does not fit.
   */
  loadStartAdapter: { params: { name: string; config: string; safetensors: ArrayBuffer }; result: StartAdapterInfo };
  train: { params: { settings: TrainSettings; run: RunInfo }; result: TrainResult };
  pause: { params: Record<string, never>; result: null };
  resume: { params: Record<string, never>; result: null };
  stop: { params: Record<string, never>; result: null };
  /** Marks a stored run failed (an interrupted run the page could not resume): the worker writes run records, the page only reads them. */
  failRun: { params: { id: string; error: ErrorInfo }; result: null };
  /** The current run's adapter, or with runId a stored run's last checkpoint as an adapter for the loaded model (no GPU needed). */
  exportAdapter: { params: { runId?: string }; result: AdapterFiles };
  /** Deletes a stored run: its record, dataset copy and checkpoint (not the run in progress). */
  deleteRun: { params: { id: string }; result: null };
  /** Test hook (page flags ?test-lose-device-at=N[&test-no-device]): destroys the run's GPU device after step N, once; noDevice: no new one comes back. */
  testLoseDevice: { params: { atStep: number; noDevice: boolean }; result: null };
  /** The loaded model with the run's adapter as a Transformers.js / onnxruntime-web .zip (src/export/onnx). */
  /** backend: onnxruntime-web's for the check and "Try it" (auto: WebGPU where it works, else wasm). */
  exportOnnx: { params: { backend: OnnxBackend }; result: OnnxExportInfo };
  /** Greedy decoding of one chat prompt by the engine and by the last web export, compared. */
  checkOnnx: { params: { prompt: string; maxNewTokens: number }; result: OnnxCheckResult };
  /** GGUF files (src/export/gguf) of the loaded model merged with the run's adapter ('gguf'), or of the adapter ('gguf-adapter'). */
  exportGguf: {
    params: { format: 'gguf' | 'gguf-adapter'; type: 'f32' | 'f16' | 'q8_0' | 'q4_0' };
    result: { zip: Blob; files: { name: string; blob: Blob }[]; warnings: string[] };
  };
  /**
   * "Continue on a cluster": the last run's job as a recipe folder in a .zip (src/export/recipe/studio.ts);
   * with runId, that stored run continued from its checkpoint (its model and dataset loaded first).
   */
  /** hubDataset: the Hub split the dataset came from: the recipe names it instead of copying the file. */
  exportRecipe: { params: { runId?: string; hubDataset?: HubDatasetSource | null }; result: { zip: ArrayBuffer } };
  /**
   * "Try it": the prompt, wrapped in the model's chat template (add_generation_prompt), answered by
   * the base model and, when a run has an adapter, by the base model with it, side by side. Tokens
   * stream as `generated` events with this request's id; the reply comes when both have ended.
   * Refused while training runs (pause or stop it first).
   */
  generate: { params: GenerateParams; result: GenerateResult };
  /** Ends a running generation early (its reply still comes, with reason 'cancelled'). */
  stopGenerate: { params: Record<string, never>; result: null };
};

export type Method = MethodOf<Methods>;
export type Params<M extends Method> = ParamsOf<Methods, M>;
export type Result<M extends Method> = ResultOf<Methods, M>;

export type Request = RpcRequest<Methods>;
export type Reply = RpcReply<Methods, ErrorInfo>;

// ---------------------------------------------------------------------------------------------
// Events

export interface Progress {
  phase: 'download' | 'read' | 'parse' | 'upload' | 'tokenize' | 'compile' | 'checkpoint';
  /** What is being worked on: a file name, "layers", … */
  label: string;
  done: number;
  /** null when unknown (a download without Content-Length). */
  total: number | null;
  unit: 'bytes' | 'tensors' | 'examples' | 'rows' | 'steps';
}



export type WorkerEvent =
  | { kind: 'event'; type: 'progress'; id: number; progress: Progress }
  | { kind: 'event'; type: 'step'; metrics: StepMetrics }
  /** metrics: a preference run's validation metrics by TRL's name. */
  | { kind: 'event'; type: 'eval'; step: number; valLoss: number; metrics?: Record<string, number> }
  | { kind: 'event'; type: 'trainState'; state: TrainState }
  | { kind: 'event'; type: 'checkpoint'; step: number }
  /** A resumed run's metrics up to its checkpoint (sent before its first new step). */
  | { kind: 'event'; type: 'history'; history: RunHistory }
  | { kind: 'event'; type: 'log'; level: 'info' | 'warn'; message: string }
  /**
   * The run is paused at checkpoint `checkpointStep` by a write the browser refused (sent just
   * before that RunStoreQuotaError's reply); `recorded` false: its paused record was refused too.
   */
  | { kind: 'event'; type: 'quotaPause'; runId: string; checkpointStep: number; recorded: boolean }
  /** "Try it": the text so far of one side of the generate request `id`. */
  | { kind: 'event'; type: 'generated'; id: number; side: GenerateSide; text: string; tokens: number; done: boolean };

export type FromWorker = Reply | WorkerEvent;
export type ToWorker = Request;

/** Turns anything thrown into the wire form, keeping the typed name. */
export function toErrorInfo(e: unknown): ErrorInfo {
  const info: ErrorInfo = toRpcErrorInfo(e);
  if (typeof e !== 'object' || e === null) return info;
  const o = e as { issues?: unknown; lines?: unknown; issueCount?: unknown; linesTotal?: unknown };
  // src/data's DatasetError carries {line, reason}[]; an EngineError carries lines already.
  if (Array.isArray(o.lines)) info.lines = o.lines as LineError[];
  else if (Array.isArray(o.issues) && o.issues.length) info.lines = lineErrors(o.issues as DataIssue[]);
  const total = typeof o.issueCount === 'number' ? o.issueCount : o.linesTotal;
  if (typeof total === 'number' && info.lines && total > info.lines.length) info.linesTotal = total;
  return info;
}

/** An error that crossed the worker boundary: the same name and message as the one thrown there. */
export class EngineError extends RpcError {
  readonly lines?: LineError[];
  readonly linesTotal?: number;
  constructor(info: ErrorInfo) {
    super(info);
    if (info.lines) this.lines = info.lines;
    if (info.linesTotal !== undefined) this.linesTotal = info.linesTotal;
  }
}

/** A dataset's bad records for the page (the line, a JSON array's index, the reason). */
export function lineErrors(issues: ReadonlyArray<DataIssue>): LineError[] {
  return issues.map((i) => ({
    line: i.line,
    ...(i.index !== undefined ? { index: i.index } : {}),
    ...(i.row !== undefined ? { place: recordPlace({ line: i.line, row: i.row, rowGroup: i.rowGroup, file: i.file }) } : {}),
    message: i.reason,
  }));
}
