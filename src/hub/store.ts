// The model library: frozen base models in IndexedDB (through idb-keyval), behind a small
// KeyValue interface so the same logic runs on an in-memory Map in Node tests and benchmarks.
//
// Layout (one object store, keys are strings; <k> = a model key, see modelKey()):
//   m|<k>|file|<name>    text of config.json, tokenizer.json, tokenizer_config.json, ...
//   m|<k>|chunk|<n>      Uint8Array, at most 64 MiB: row ranges ("segments") of tensors, packed
//   m|<k>|progress       ImportProgressRecord: where an import stands (present while importing)
//   m|<k>|manifest       ModelManifest: written LAST, after every chunk and file
// A model whose manifest exists is complete. Keys of a model without a manifest are an incomplete
// import: listed as such, resumable (from its progress record) or deletable. Deleting removes the
// manifest first, so a crash mid-delete leaves an incomplete model, never a broken complete one.
//
// A tensor is stored as segments: consecutive row ranges, each inside one chunk:
//   quantized (int8/int4): the packed codes of its rows, then their f32 scales (src/quant/format.ts)
//   f32 / f16 / bf16:      the rows' values, little-endian
// so a loader can stream a tensor row range by row range to the GPU without assembling it
// (storedWeightSource in src/hub/load.ts reads them).

import { createStore, del as idbDel, get as idbGet, keys as idbKeys, set as idbSet } from 'idb-keyval';
import { qBytes, scaleBytes } from '../quant/format';
import { floatBytes, type StoredFormat } from '../io/dtype';
import type { StreamCheckpoint } from './download';

/** The storage operations the library needs. idbKeyValue() in the app, memoryKeyValue() in tests. */
export interface KeyValue {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

export const MODEL_DB = 'lora-studio-models';

/** The real store: an IndexedDB database through idb-keyval. */
export function idbKeyValue(dbName = MODEL_DB, storeName = 'kv'): KeyValue {
  const store = createStore(dbName, storeName);
  return {
    get: (k) => idbGet(k, store),
    set: (k, v) => idbSet(k, v, store),
    del: (k) => idbDel(k, store),
    keys: async () => (await idbKeys(store)).filter((k): k is string => typeof k === 'string'),
  };
}

/**
 * An in-memory KeyValue (tests, benchmarks). Like IndexedDB, it stores a structured clone of each
 * value and hands out clones, so later changes to an object never reach what was stored.
 */
export function memoryKeyValue(map = new Map<string, unknown>()): KeyValue & { map: Map<string, unknown> } {
  return {
    map,
    get: async (k) => (map.has(k) ? structuredClone(map.get(k)) : undefined),
    set: async (k, v) => {
      map.set(k, structuredClone(v));
    },
    del: async (k) => {
      map.delete(k);
    },
    keys: async () => [...map.keys()],
  };
}

/** The largest value the store writes: models are kept in chunks of at most 64 MiB. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** What the importer aims for by default. */
export const DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024;

export type ImportQuant = 'int8' | 'int4' | 'none';

export class StoreError extends Error {
  override name = 'StoreError';
}
/** The manifest or a chunk does not match: the model must be deleted (or re-imported). */
export class StoreCorruptError extends StoreError {
  override name = 'StoreCorruptError';
}
/** The browser refused a write: storage is full. Nothing already stored is lost. */
export class StoreFullError extends StoreError {
  override name = 'StoreFullError';
}
/** No complete model under that key (maybe an incomplete import). */
export class StoreMissingError extends StoreError {
  override name = 'StoreMissingError';
}

export interface Segment {
  /** Index into manifest.chunks. */
  chunk: number;
  /** Byte offset inside the chunk. */
  offset: number;
  bytes: number;
  rowStart: number;
  rows: number;
}

export interface StoredTensorEntry {
  name: string;
  /** The original shape. */
  shape: number[];
  format: StoredFormat;
  /** shape[0] and the product of the rest (1-D: rows = 1, cols = length). */
  rows: number;
  cols: number;
  /** Consecutive row ranges covering rows 0 .. rows. */
  segments: Segment[];
}

export interface StoredFileEntry {
  name: string;
  bytes: number;
}

export interface ChunkEntry {
  key: string;
  bytes: number;
}

export interface SourceFileEntry {
  name: string;
  size: number;
  sha256: string | null;
}

/** Which model a library entry is: the same fields in its manifest, its progress record and the list. */
export interface StoredModelIdentity {
  key: string;
  name: string;
  source: 'hub' | 'local';
  hubId: string | null;
  revision: string | null;
  quant: ImportQuant;
}

/** The identity fields of a manifest or progress record, and nothing else. */
export function modelIdentity(m: StoredModelIdentity): StoredModelIdentity {
  return { key: m.key, name: m.name, source: m.source, hubId: m.hubId, revision: m.revision, quant: m.quant };
}

/** Bytes a model's chunks and files take in the store. */
export function storedBytes(m: { chunks: ChunkEntry[]; files: StoredFileEntry[] }): number {
  return m.chunks.reduce((a, c) => a + c.bytes, 0) + m.files.reduce((a, f) => a + f.bytes, 0);
}

export interface ModelManifest extends StoredModelIdentity {
  format: 'lora-studio-model';
  version: 1;
  /** ISO date the import finished. */
  createdAt: string;
  /** Bytes of every chunk and file. */
  totalBytes: number;
  files: StoredFileEntry[];
  chunks: ChunkEntry[];
  tensors: StoredTensorEntry[];
  /** The weights files it came from (sizes and hashes as the Hub gave them). */
  sourceFiles: SourceFileEntry[];
}

/** Where an import stands; written after every committed chunk. */
export interface ImportProgressRecord extends StoredModelIdentity {
  startedAt: string;
  updatedAt: string;
  files: StoredFileEntry[];
  chunks: ChunkEntry[];
  /** Completed tensors. */
  tensors: StoredTensorEntry[];
  /** The tensor being written when the last chunk was committed, with its rows so far. */
  current: StoredTensorEntry | null;
  sourceFiles: SourceFileEntry[];
  /** Index in sourceFiles of the file being read. */
  fileIndex: number;
  /** The stream position in that file matching what is committed (null: start of the file). */
  checkpoint: StreamCheckpoint | null;
  /** chunks.length and tensors.length when file `fileIndex` started (to roll back a corrupt file). */
  fileStart: { chunks: number; tensors: number };
  /** Source bytes consumed (for progress after a resume). */
  sourceBytesDone: number;
  sourceBytesTotal: number;
  /** Bytes the finished model will take (estimate made before the import started). */
  expectedBytes: number;
}

export interface StoredModelSummary extends StoredModelIdentity {
  /** Stored bytes (complete), or bytes written so far (incomplete). */
  bytes: number;
  /** ISO date: finished (complete) or last progress (incomplete). */
  date: string;
  complete: boolean;
  /** Incomplete only: fraction of the source bytes imported (0..1), when known. */
  fraction: number | null;
  /** Incomplete only: no progress record survived (only orphan chunks): delete, cannot resume. */
  orphan: boolean;
}

const PREFIX = 'm|';
const k = {
  file: (key: string, name: string) => `${PREFIX}${key}|file|${name}`,
  chunk: (key: string, n: number) => `${PREFIX}${key}|chunk|${String(n).padStart(6, '0')}`,
  progress: (key: string) => `${PREFIX}${key}|progress`,
  manifest: (key: string) => `${PREFIX}${key}|manifest`,
};

/** The library key of a model: hub id, revision and quantization (or a local name). No '|'. */
export function modelKey(source: 'hub' | 'local', id: string, revision: string | null, quant: ImportQuant): string {
  const base = source === 'hub' ? `hub:${id}@${revision ?? 'main'}` : `local:${id}`;
  return `${base}:${quant}`.replace(/\|/g, '_');
}

function modelKeyOf(storeKey: string): string | null {
  if (!storeKey.startsWith(PREFIX)) return null;
  const end = storeKey.indexOf('|', PREFIX.length);
  return end < 0 ? null : storeKey.slice(PREFIX.length, end);
}

function byteLengthOf(v: unknown): number | null {
  if (v instanceof Uint8Array) return v.byteLength;
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  return null;
}

function asBytes(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).byteLength;

/** Bytes one segment of `rows` rows takes in a given format. */
export function segmentBytes(format: StoredFormat, rows: number, cols: number): number {
  if (format === 'int8' || format === 'int4') return qBytes(format, rows, cols) + scaleBytes(rows, cols);
  return rows * cols * floatBytes(format);
}

export class ModelStore {
  constructor(readonly kv: KeyValue) {}

  /** Every model, complete or not, newest first. */
  async list(): Promise<StoredModelSummary[]> {
    const all = await this.kv.keys();
    const byModel = new Map<string, string[]>();
    for (const key of all) {
      const mk = modelKeyOf(key);
      if (mk === null) continue;
      let l = byModel.get(mk);
      if (!l) byModel.set(mk, (l = []));
      l.push(key);
    }
    const out: StoredModelSummary[] = [];
    for (const [mk, keys] of byModel) {
      const manifest = keys.includes(k.manifest(mk)) ? await this.manifest(mk).catch(() => null) : null;
      if (manifest) {
        out.push({
          ...modelIdentity(manifest),
          key: mk,
          bytes: manifest.totalBytes,
          date: manifest.createdAt,
          complete: true,
          fraction: null,
          orphan: false,
        });
        continue;
      }
      const progress = keys.includes(k.progress(mk)) ? await this.progress(mk).catch(() => null) : null;
      if (progress) {
        out.push({
          ...modelIdentity(progress),
          key: mk,
          bytes: storedBytes(progress),
          date: progress.updatedAt,
          complete: false,
          fraction: progress.sourceBytesTotal > 0 ? progress.sourceBytesDone / progress.sourceBytesTotal : null,
          orphan: false,
        });
      } else {
        out.push({
          key: mk,
          name: mk,
          source: mk.startsWith('hub:') ? 'hub' : 'local',
          hubId: null,
          revision: null,
          quant: (mk.slice(mk.lastIndexOf(':') + 1) as ImportQuant) ?? 'none',
          bytes: 0,
          date: '',
          complete: false,
          fraction: null,
          orphan: true,
        });
      }
    }
    out.sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : 0));
    return out;
  }

  async manifest(key: string): Promise<ModelManifest | null> {
    const v = await this.kv.get(k.manifest(key));
    if (v === undefined) return null;
    return validateManifest(key, v);
  }

  async progress(key: string): Promise<ImportProgressRecord | null> {
    const v = (await this.kv.get(k.progress(key))) as ImportProgressRecord | undefined;
    if (v === undefined) return null;
    if (typeof v !== 'object' || v === null || v.key !== key || !Array.isArray(v.chunks) || !Array.isArray(v.tensors)) {
      throw new StoreCorruptError(`The import record of ${key} is damaged: delete the model and import it again.`);
    }
    return v;
  }

  /** Deletes every key of a model (manifest first). */
  async delete(key: string): Promise<void> {
    await this.kv.del(k.manifest(key));
    const keys = (await this.kv.keys()).filter((s) => modelKeyOf(s) === key);
    for (const s of keys) if (s !== k.progress(key)) await this.kv.del(s);
    await this.kv.del(k.progress(key));
  }

  /** Bytes held by the library, and the origin's usage and quota when the browser reports them. */
  async usage(storage: { estimate(): Promise<{ usage?: number; quota?: number }> } | null = defaultStorage()): Promise<{
    modelsBytes: number;
    usage: number | null;
    quota: number | null;
  }> {
    const models = await this.list();
    const modelsBytes = models.reduce((a, m) => a + m.bytes, 0);
    if (!storage) return { modelsBytes, usage: null, quota: null };
    const est = await storage.estimate();
    return { modelsBytes, usage: est.usage ?? null, quota: est.quota ?? null };
  }

  /** Opens a complete model: validates the manifest and that every chunk and file exists. */
  async open(key: string): Promise<StoredModel> {
    const manifest = await this.manifest(key);
    if (!manifest) {
      const progress = await this.progress(key).catch(() => null);
      throw new StoreMissingError(
        progress
          ? `${progress.name} is not completely imported (${Math.round((100 * progress.sourceBytesDone) / Math.max(1, progress.sourceBytesTotal))}% done): resume or delete it.`
          : `No model ${key} in the library.`,
      );
    }
    const present = new Set(await this.kv.keys());
    for (const c of manifest.chunks) {
      if (!present.has(c.key)) throw new StoreCorruptError(`${manifest.name}: chunk ${c.key} is missing from storage; delete the model and import it again.`);
    }
    for (const f of manifest.files) {
      if (!present.has(k.file(key, f.name))) throw new StoreCorruptError(`${manifest.name}: ${f.name} is missing from storage; delete the model and import it again.`);
    }
    return new StoredModel(this, manifest);
  }

  /** Reads every chunk and checks its size against the manifest (a full integrity pass). */
  async verify(key: string): Promise<ModelManifest> {
    const model = await this.open(key);
    for (let i = 0; i < model.manifest.chunks.length; i++) await model.chunk(i);
    for (const f of model.manifest.files) await model.text(f.name);
    return model.manifest;
  }

  // ---- writing (the importer) ----

  async putFile(key: string, name: string, text: string): Promise<StoredFileEntry> {
    await this.write(k.file(key, name), text);
    return { name, bytes: utf8Length(text) };
  }

  async putChunk(key: string, n: number, bytes: Uint8Array): Promise<ChunkEntry> {
    if (bytes.byteLength > MAX_CHUNK_BYTES) throw new StoreError(`chunk of ${bytes.byteLength} bytes exceeds ${MAX_CHUNK_BYTES}`);
    const ck = k.chunk(key, n);
    await this.write(ck, bytes);
    return { key: ck, bytes: bytes.byteLength };
  }

  async putProgress(rec: ImportProgressRecord): Promise<void> {
    await this.write(k.progress(rec.key), rec);
  }

  /** Writes the manifest (last), then drops the progress record. */
  async putManifest(m: ModelManifest): Promise<void> {
    validateManifest(m.key, m);
    await this.write(k.manifest(m.key), m);
    await this.kv.del(k.progress(m.key));
  }

  async deleteChunk(key: string, n: number): Promise<void> {
    await this.kv.del(k.chunk(key, n));
  }

  async readFileText(key: string, name: string): Promise<string | undefined> {
    const v = await this.kv.get(k.file(key, name));
    return typeof v === 'string' ? v : undefined;
  }

  private async write(key: string, value: unknown): Promise<void> {
    try {
      await this.kv.set(key, value);
    } catch (e) {
      const name = (e as { name?: string })?.name ?? '';
      if (name === 'QuotaExceededError' || /quota|disk|space/i.test((e as Error)?.message ?? '')) {
        throw new StoreFullError(
          'Browser storage is full: the import stopped. Free some space (delete models from the library or free disk space), then resume; nothing already stored was lost.',
        );
      }
      throw e;
    }
  }
}

function defaultStorage(): { estimate(): Promise<{ usage?: number; quota?: number }> } | null {
  const nav = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<{ usage?: number; quota?: number }> } } }).navigator;
  const s = nav?.storage;
  return s && typeof s.estimate === 'function' ? (s as { estimate(): Promise<{ usage?: number; quota?: number }> }) : null;
}

/** Checks a manifest's structure and internal consistency (segment bounds and row coverage). */
export function validateManifest(key: string, v: unknown): ModelManifest {
  const bad = (why: string): never => {
    throw new StoreCorruptError(`The library entry ${key} is damaged (${why}): delete it and import the model again.`);
  };
  if (typeof v !== 'object' || v === null) return bad('manifest is not an object');
  const m = v as ModelManifest;
  if (m.format !== 'lora-studio-model' || m.version !== 1) bad('unknown manifest version');
  if (m.key !== key) bad('manifest key mismatch');
  if (!Array.isArray(m.chunks) || !Array.isArray(m.tensors) || !Array.isArray(m.files)) bad('manifest lists missing');
  let total = 0;
  for (const c of m.chunks) {
    if (typeof c?.key !== 'string' || !Number.isSafeInteger(c.bytes) || c.bytes < 0 || c.bytes > MAX_CHUNK_BYTES) bad('bad chunk entry');
    total += c.bytes;
  }
  for (const f of m.files) {
    if (typeof f?.name !== 'string' || !Number.isSafeInteger(f.bytes)) bad('bad file entry');
    total += f.bytes;
  }
  if (total !== m.totalBytes) bad(`sizes add up to ${total}, manifest says ${m.totalBytes}`);
  const names = new Set<string>();
  for (const t of m.tensors) {
    if (typeof t?.name !== 'string' || names.has(t.name)) bad('bad or duplicate tensor name');
    names.add(t.name);
    if (!['int8', 'int4', 'f32', 'f16', 'bf16'].includes(t.format)) bad(`tensor ${t.name}: unknown format`);
    if (!Array.isArray(t.shape) || t.shape.reduce((a, b) => a * b, 1) !== t.rows * t.cols) bad(`tensor ${t.name}: shape and rows/cols disagree`);
    let row = 0;
    for (const s of t.segments) {
      const chunk = m.chunks[s.chunk];
      if (!chunk) bad(`tensor ${t.name}: segment in a missing chunk`);
      if (s.rowStart !== row || s.rows <= 0) bad(`tensor ${t.name}: segments do not cover its rows in order`);
      if (s.bytes !== segmentBytes(t.format, s.rows, t.cols)) bad(`tensor ${t.name}: segment size mismatch`);
      if (s.offset < 0 || s.offset + s.bytes > chunk.bytes) bad(`tensor ${t.name}: segment outside its chunk`);
      row += s.rows;
    }
    if (row !== t.rows) bad(`tensor ${t.name}: stored ${row} of ${t.rows} rows`);
  }
  return m;
}

/** A complete model in the library: its files and tensors, read on demand. */
export class StoredModel {
  private cache: { index: number; bytes: Uint8Array } | null = null;
  private readonly byName: Map<string, StoredTensorEntry>;

  constructor(
    private readonly store: ModelStore,
    readonly manifest: ModelManifest,
  ) {
    this.byName = new Map(manifest.tensors.map((t) => [t.name, t]));
  }

  get key(): string {
    return this.manifest.key;
  }

  get tensorNames(): string[] {
    return this.manifest.tensors.map((t) => t.name);
  }

  entry(name: string): StoredTensorEntry | undefined {
    return this.byName.get(name);
  }

  has(file: string): boolean {
    return this.manifest.files.some((f) => f.name === file);
  }

  async text(file: string): Promise<string> {
    const entry = this.manifest.files.find((f) => f.name === file);
    if (!entry) throw new StoreMissingError(`${this.manifest.name}: no ${file} was stored with this model`);
    const t = await this.store.readFileText(this.key, file);
    if (t === undefined || utf8Length(t) !== entry.bytes) {
      throw new StoreCorruptError(`${this.manifest.name}: ${file} is missing or damaged in storage; delete the model and import it again.`);
    }
    return t;
  }

  /** Chunk `index`, size-checked against the manifest. Keeps the last one cached. */
  async chunk(index: number): Promise<Uint8Array> {
    if (this.cache?.index === index) return this.cache.bytes;
    const entry = this.manifest.chunks[index];
    if (!entry) throw new StoreCorruptError(`${this.manifest.name}: no chunk ${index}`);
    const v = await this.store.kv.get(entry.key);
    const len = byteLengthOf(v);
    if (len === null) throw new StoreCorruptError(`${this.manifest.name}: chunk ${index} is missing from storage; delete the model and import it again.`);
    if (len !== entry.bytes) {
      throw new StoreCorruptError(`${this.manifest.name}: chunk ${index} holds ${len} bytes, the manifest says ${entry.bytes}; delete the model and import it again.`);
    }
    const bytes = asBytes(v)!;
    this.cache = { index, bytes };
    return bytes;
  }
}
