// Training runs in IndexedDB (idb-keyval, database "lora-studio-runs"): each run's record (model,
// dataset, settings, loss history, status), its dataset bytes, and its last checkpoint (LoRA
// parameters, AdamW moments, step). The worker writes; the page reads the list of
// past runs and an interrupted run's dataset. Runs in a worker and in the page.
import { createStore, delMany, get, keys, set, type UseStore } from 'idb-keyval';
import type { ErrorInfo, ModelSource, TrainSettings } from './protocol';

export interface RunHistory {
  steps: number[];
  loss: number[];
  lr: number[];
  gradNorm: Array<number | null>;
  /** Validation losses as [step, loss]. */
  val: Array<[number, number]>;
}

export interface RunRecord {
  id: string;
  /** 'running' after a reload or crash means interrupted: the page resumes it. */
  status: 'running' | 'finished' | 'stopped' | 'failed';
  startedAt: string;
  updatedAt: string;
  model: { source: ModelSource; label: string; name: string; hubId: string | null };
  dataset: { fileName: string; skipInvalid: boolean; examples: number };
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

const KEEP_RUNS = 10;
let db: UseStore | null = null;
const store = (): UseStore => (db ??= createStore('lora-studio-runs', 'kv'));
const runKey = (id: string) => `run|${id}`;
const ckptKey = (id: string) => `ckpt|${id}`;
const dataKey = (id: string) => `data|${id}`;

export function emptyHistory(): RunHistory {
  return { steps: [], loss: [], lr: [], gradNorm: [], val: [] };
}

/** A new run: its record and dataset bytes; the oldest runs beyond KEEP_RUNS are deleted. */
export async function createRun(record: RunRecord, datasetBytes: ArrayBuffer): Promise<void> {
  await set(dataKey(record.id), datasetBytes, store());
  await set(runKey(record.id), record, store());
  const runs = await listRuns();
  for (const old of runs.slice(KEEP_RUNS)) await deleteRun(old.id);
}

export async function saveRun(record: RunRecord): Promise<void> {
  await set(runKey(record.id), { ...record, updatedAt: new Date().toISOString() }, store());
}

/** Writes the checkpoint first, then the record that points at it. */
export async function saveCheckpoint(record: RunRecord, ckpt: Checkpoint): Promise<void> {
  await set(ckptKey(record.id), ckpt, store());
  await saveRun({ ...record, checkpointStep: ckpt.step });
}

export function loadCheckpoint(id: string): Promise<Checkpoint | undefined> {
  return get<Checkpoint>(ckptKey(id), store());
}

export function loadRunDataset(id: string): Promise<ArrayBuffer | undefined> {
  return get<ArrayBuffer>(dataKey(id), store());
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

/** The newest run still marked running: interrupted by a reload or a crash. */
export async function interruptedRun(): Promise<RunRecord | null> {
  return (await listRuns()).find((r) => r.status === 'running') ?? null;
}

export async function deleteRun(id: string): Promise<void> {
  await delMany([runKey(id), ckptKey(id), dataKey(id)], store());
}

