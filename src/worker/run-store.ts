// Training runs in IndexedDB (idb-keyval, database "lora-studio-runs"): each run's record (model,
// dataset, settings, loss history, status), its dataset bytes, and its last checkpoint (LoRA
// parameters, AdamW moments, step). The worker writes; the page reads the list of
// past runs and an interrupted run's dataset. Runs in a worker and in the page.
// Quota: the bytes a write needs are checked against navigator.storage.estimate() before it starts
// (the model library's check, src/hub/download.ts), and a write the browser refuses anyway becomes
// the same typed RunStoreQuotaError. Each key is written in its own transaction, so a refused
// write leaves the key's previous value (an earlier checkpoint) intact; a new run whose record
// cannot be written takes its dataset copy back out.
import { createStore, del, delMany, get, keys, set, type UseStore } from 'idb-keyval';
import { checkStorageQuota, formatBytes, HubQuotaError, type StorageLike } from '../hub/download';
import type { ErrorInfo, ModelSource, TrainSettings } from './protocol';

export interface RunHistory {
  steps: number[];
  loss: number[];
  lr: number[];
  gradNorm: Array<number | null>;
  /** Validation losses as [step, loss]. */
  val: Array<[number, number]>;
  /** A preference run's metrics of each step, by TRL's name (rewards/chosen, …); absent for SFT and in runs saved before them. */
  metrics?: Array<Record<string, number>>;
  /** A preference run's validation metrics as [step, metrics]. */
  valMetrics?: Array<[number, Record<string, number>]>;
}

export interface RunRecord {
  id: string;
  /**
   * 'running' after a reload or crash means interrupted: the page resumes it. 'paused': its GPU
   * device was lost, or the browser refused a write for lack of space (`error` says which); it
   * resumes from its checkpoint (on a new device, or once space is freed), or is exported from
   * there. A reload does not resume a paused run. A run whose paused record was refused too stays
   * 'running' here; the page notes its pause outside IndexedDB (src/state/run-pause-notes.ts).
   */
  status: 'running' | 'paused' | 'finished' | 'stopped' | 'failed';
  startedAt: string;
  updatedAt: string;
  model: { source: ModelSource; label: string; name: string; hubId: string | null };
  /** examples: pairs for preference data; kind absent in runs saved before preference data = 'sft'. */
  dataset: { fileName: string; skipInvalid: boolean; examples: number; kind?: 'sft' | 'preference' };
  settings: TrainSettings;
  /** The page's settings form, to show the run's settings again when it resumes. */
  form: unknown;
  /** Metrics up to the last checkpoint (a resumed run recomputes the steps after it). */
  history: RunHistory;
  checkpointStep: number;
  error: ErrorInfo | null;
}

export interface Checkpoint {
  runId: string;
  step: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /**
   * The data position older versions stored (their batcher was a stream). Not used: the data of
   * step k is TrainingPlan's pure function of k, so `step` is all a resume needs; its presence
   * only tells the worker to warn that the batch order after the checkpoint changed.
   */
  pos?: unknown;
}

/** The browser's storage cannot hold what a run needs to keep. Earlier runs are untouched. */
export class RunStoreQuotaError extends Error {
  override name = 'RunStoreQuotaError';
  constructor(
    readonly what: string,
    readonly needed: number,
    readonly available: number | null,
  ) {
    super(
      `Not enough browser storage for ${what}: it needs about ${formatBytes(needed)}` +
        `${available === null ? '' : ` but only ${formatBytes(available)} is available`}. Delete past runs or models from the library, or free disk space; earlier runs and checkpoints are kept.`,
    );
  }
}

/** Refuses (RunStoreQuotaError) when `needed` bytes do not fit the origin's quota. */
export async function ensureRoom(what: string, needed: number, storage?: StorageLike | null): Promise<void> {
  try {
    await checkStorageQuota(needed, storage);
  } catch (e) {
    if (e instanceof HubQuotaError) throw new RunStoreQuotaError(what, needed, e.available);
    throw e;
  }
}

/** Bytes a checkpoint of `params` LoRA parameters takes (parameters and two moments, f32). */
export const checkpointBytes = (params: number): number => 3 * 4 * params;

/** A write the browser refused for lack of space, as RunStoreQuotaError; anything else as it was. */
async function write(what: string, bytes: number, key: string, value: unknown): Promise<void> {
  try {
    await set(key, value, store());
  } catch (e) {
    if ((e as { name?: string } | null)?.name === 'QuotaExceededError') throw new RunStoreQuotaError(what, bytes, null);
    throw e;
  }
}

const KEEP_RUNS = 10;
let db: UseStore | null = null;
const store = (): UseStore => (db ??= createStore('lora-studio-runs', 'kv'));
const runKey = (id: string) => `run|${id}`;
const ckptKey = (id: string) => `ckpt|${id}`;
const dataKey = (id: string) => `data|${id}`;

export function emptyHistory(): RunHistory {
  return { steps: [], loss: [], lr: [], gradNorm: [], val: [] };
}

/**
 * A new run: its record and dataset copy (a Blob: IndexedDB streams it to disk, so a Parquet split
 * is never read into memory to be kept), after checking that they and the run's checkpoints
 * (`checkpointSize` bytes) fit; the oldest runs beyond KEEP_RUNS are deleted.
 */
export async function createRun(record: RunRecord, dataset: Blob, checkpointSize = 0): Promise<void> {
  const what = "this run's dataset copy and checkpoint";
  const needed = dataset.size + checkpointSize + JSON.stringify(record).length;
  await ensureRoom(what, needed);
  await write(what, needed, dataKey(record.id), dataset);
  try {
    await write(what, needed, runKey(record.id), record);
  } catch (e) {
    await del(dataKey(record.id), store()).catch(() => undefined);
    throw e;
  }
  const runs = await listRuns();
  for (const old of runs.slice(KEEP_RUNS)) await deleteRun(old.id);
}

export async function saveRun(record: RunRecord): Promise<void> {
  const value = { ...record, updatedAt: new Date().toISOString() };
  await write(`the record of run ${record.id}`, JSON.stringify(value).length, runKey(record.id), value);
}

/**
 * Writes the checkpoint first, then the record that points at it. `record.checkpointStep` follows
 * the stored checkpoint as soon as it is written, even when the record's own write is refused
 * after it: the caller's record then still says which checkpoint a resume continues from.
 */
export async function saveCheckpoint(record: RunRecord, ckpt: Checkpoint): Promise<void> {
  const bytes = checkpointBytes(ckpt.params.length);
  const what = `the checkpoint of step ${ckpt.step}`;
  await ensureRoom(what, bytes);
  await write(what, bytes, ckptKey(record.id), ckpt);
  record.checkpointStep = ckpt.step;
  await saveRun(record);
}

export function loadCheckpoint(id: string): Promise<Checkpoint | undefined> {
  return get<Checkpoint>(ckptKey(id), store());
}

/** A run's dataset copy (runs stored before Blobs kept an ArrayBuffer: it comes back as a Blob too). */
export async function loadRunDataset(id: string): Promise<Blob | undefined> {
  const kept = await get<Blob | ArrayBuffer>(dataKey(id), store());
  return kept instanceof ArrayBuffer ? new Blob([kept]) : kept;
}

export async function getRun(id: string): Promise<RunRecord | undefined> {
  return get<RunRecord>(runKey(id), store());
}

/** Every run, newest first. */
export async function listRuns(): Promise<RunRecord[]> {
  const ids = (await keys<string>(store())).filter((k) => typeof k === 'string' && k.startsWith('run|')).map((k) => k.slice(4));
  const runs = (await Promise.all(ids.map(getRun))).filter((r): r is RunRecord => r !== undefined);
  return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
}

/** The newest run of `runs` (listRuns' order) still marked running: interrupted by a reload or a crash. */
export function interruptedRun(runs: RunRecord[]): RunRecord | null {
  return runs.find((r) => r.status === 'running') ?? null;
}

export async function deleteRun(id: string): Promise<void> {
  await delMany([runKey(id), ckptKey(id), dataKey(id)], store());
}

