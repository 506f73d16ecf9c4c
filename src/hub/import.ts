// The import pipeline: a model from the Hub (or the user's files) into the library, tensor by
// tensor and row range by row range: read (or download) a few MiB of a tensor, convert to f32,
// quantize, append to the current chunk; commit each chunk (≤ 64 MiB) with a progress record; the
// manifest last. Peak memory is one chunk plus one row group, whatever the model's size, so a 3B
// model never needs its f32 copy (nor its bf16 one).
//
// Storage formats by --quant (stored formats in src/quant/format.ts and src/hub/store.ts):
//   int8 / int4   every 2-D weight (q/k/v/o/gate/up/down projections, the embedding, the LM head),
//                 block-32 quantized along `in`; norms and biases stay f32.
//   none          "16-bit": 2-D weights kept as bf16 when the source is bf16 (lossless), else as
//                 f16 (lossless for f16 sources; f32 sources round to f16's 11-bit mantissa, and a
//                 value beyond ±65504 fails the import with a message); norms and biases stay f32.
//                 The engine expands 16-bit weights to f32 when it uploads them.
// Only the tensors the engine reads (expectedWeightShapes) are stored; others (a tied lm_head,
// rotary buffers) stream past. Everything is checked against config.json before any data is read.
//
// Resuming: a chunk is committed when full or every few seconds (commitEverySeconds), each
// time with a progress record that holds the committed chunks, the finished tensors, the rows done
// of the current one, and the weights stream's checkpoint (offset + SHA-256 state). importModel on
// the same key continues from there (a Range request for the Hub). Each weights file starts a new
// chunk, so a file whose SHA-256 fails is rolled back alone and downloaded again on the next try.
//
// Runs in a Web Worker (src/hub/import-worker.ts) or in Node: fetch, IndexedDB through the
// KeyValue, no DOM.

import { checkFileSize, maxTextFileBytes, parseUntrustedJson } from '../io/untrusted/json';
import { failWith } from '../io/untrusted/errors';
import { readSafetensorsHeader, type ByteSource, type SafetensorsIndex, type TensorInfo } from '../io/safetensors';
import { parseModelConfig } from '../engine/model/config';
import { checkWeightHeaders, expectedWeightShapes, INDEX_FILE, parseWeightIndex, SINGLE_FILE, type ModelFolder } from '../engine/model/weights';
import { checkFinitePart, rowsCols } from '../engine/model/weight-source';
import type { ModelSpec } from '../engine/model/spec';
import { quantize } from '../quant/format';
import { decodeToF32, encodeF32As, F16_MAX, type FloatDtype, type StoredFormat } from '../io/dtype';

const SAME_FORMAT: Record<string, StoredFormat | undefined> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
import {
  DEFAULT_CHUNK_BYTES,
  MAX_CHUNK_BYTES,
  segmentBytes,
  StoreError,
  type ImportProgressRecord,
  type ImportQuant,
  type ModelManifest,
  type ModelStore,
  type SourceFileEntry,
  type StoredTensorEntry,
  modelIdentity,
  modelKey,
  storedBytes,
} from './store';
import {
  checkStorageQuota,
  DownloadTracker,
  HubAbortError,
  HubClient,
  HubIntegrityError,
  HubNotFoundError,
  type DownloadProgress,
  type StorageLike,
  type StreamCheckpoint,
} from './download';

/** Small files stored with the model when present (config.json is required). */
export const MODEL_TEXT_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

export class ImportError extends Error {
  override name = 'ImportError';
}

/** A weights file being read, mostly in increasing offsets. */
export interface ImportReader extends ByteSource {
  /** The position up to which bytes have been consumed, and the hash state there. */
  checkpoint(): StreamCheckpoint;
  /** Reads what is left and verifies the file (SHA-256 where known). */
  finish(): Promise<void>;
  close(): Promise<void>;
}

/** Where a model comes from: the Hub, or files the user picked. */
export interface ImportSource {
  kind: 'hub' | 'local';
  /** Hub model id, or the folder's name. */
  id: string;
  revision: string | null;
  /** Text of a small file, or null when the model has none. */
  text(file: string, signal?: AbortSignal): Promise<string | null>;
  /** Size (and SHA-256 when known) of a weights file, or null when it does not exist. */
  stat(file: string, signal?: AbortSignal): Promise<SourceFileEntry | null>;
  /** The safetensors header of a weights file (reads only the header's bytes). */
  header(file: SourceFileEntry, signal?: AbortSignal): Promise<SafetensorsIndex>;
  open(file: SourceFileEntry, options: { signal?: AbortSignal; resume: StreamCheckpoint | null; onBytes?: (n: number) => void }): Promise<ImportReader>;
}

/** A model on the Hub (or the stand-in at client.baseUrl). */
export function hubSource(client: HubClient, id: string, revision = 'main'): ImportSource {
  return {
    kind: 'hub',
    id,
    revision,
    async text(file, signal) {
      try {
        return await client.text(id, revision, file, signal);
      } catch (e) {
        if (e instanceof HubNotFoundError && file !== 'config.json') return null;
        throw e;
      }
    },
    async stat(file, signal) {
      const info = await client.stat(id, revision, file, signal);
      return info ? { name: file, size: info.size, sha256: info.sha256 } : null;
    },
    async header(file, signal) {
      // One-off Range reads: only the header's bytes travel.
      const reader = client.open(id, revision, { file: file.name, size: file.size, sha256: null }, { signal, resume: { offset: file.size, hash: null } });
      try {
        return await readSafetensorsHeader(reader);
      } finally {
        await reader.close();
      }
    },
    async open(file, options) {
      return client.open(id, revision, { file: file.name, size: file.size, sha256: file.sha256 }, options);
    },
  };
}

/** Files the user picked (a ModelFolder from src/io: blobFolder in the browser, nodeFolder in Node). */
export function folderSource(folder: ModelFolder): ImportSource {
  return {
    kind: 'local',
    id: folder.name,
    revision: null,
    async text(file) {
      if (!(await folder.has(file))) return null;
      checkFileSize((await folder.source(file)).size, maxTextFileBytes(file), failWith(`${folder.name}/${file}`));
      return folder.text(file);
    },
    async stat(file) {
      if (!(await folder.has(file))) return null;
      const src = await folder.source(file);
      return { name: file, size: src.size, sha256: null };
    },
    async header(file) {
      return readSafetensorsHeader(await folder.source(file.name));
    },
    async open(file, options) {
      const src = await folder.source(file.name);
      let pos = options.resume?.offset ?? 0;
      return {
        name: src.name,
        size: src.size,
        async read(offset: number, length: number) {
          if (options.signal?.aborted) throw new HubAbortError();
          const bytes = await src.read(offset, length);
          if (offset + length > pos) {
            options.onBytes?.(offset + length - Math.max(pos, offset));
            pos = offset + length;
          }
          return bytes;
        },
        checkpoint: () => ({ offset: pos, hash: null }),
        finish: async () => {},
        close: async () => {},
      };
    },
  };
}

export interface ImportProgress {
  phase: 'files' | 'checking' | 'weights' | 'finishing' | 'done';
  /** The weights file and tensor being imported. */
  file: string | null;
  tensor: string | null;
  tensorsDone: number;
  tensorsTotal: number;
  /** Source (weights file) bytes consumed, including those imported before a resume. */
  bytesDone: number;
  bytesTotal: number;
  /** Source bytes per second through download + quantization, this session. */
  bytesPerSec: number;
  /** Bytes written to the library so far. */
  storedBytes: number;
  /** Bytes the finished model takes. */
  expectedBytes: number;
  /** Network progress (Hub imports). */
  download: DownloadProgress | null;
  /** True when this run continued an earlier import. */
  resumed: boolean;
}

export interface ImportOptions {
  store: ModelStore;
  source: ImportSource;
  quant: ImportQuant;
  /** Display name (default: the model id). */
  name?: string;
  /** Library key (default: modelKey(source, id, revision, quant)). */
  key?: string;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** Target chunk size (≤ 64 MiB; default 32 MiB). */
  chunkBytes?: number;
  /** Source bytes read per step (default 4 MiB). */
  rowGroupBytes?: number;
  /** Commit the chunk being filled at least this often, even if small (default 5 s). */
  commitEverySeconds?: number;
  /** navigator.storage or a stand-in; null skips the quota check. Default: navigator.storage when present. */
  storage?: StorageLike | null;
  /** Injected clock (ms) for progress speeds. */
  now?: () => number;
}

/** How a source tensor is stored for a given quantization choice. */
export function storedFormatFor(name: string, shape: readonly number[], dtype: string, quant: ImportQuant): StoredFormat {
  const matrix = shape.length === 2 && name.endsWith('.weight') && !/norm/i.test(name);
  if (!matrix) return 'f32';
  if (quant === 'int8' || quant === 'int4') return quant;
  return dtype === 'BF16' ? 'bf16' : 'f16';
}

/** Bytes a model takes in the library for each choice (the UI shows these). From config alone. */
export function storedModelBytes(spec: ModelSpec, quant: ImportQuant, sourceDtype: 'BF16' | 'F16' | 'F32' = 'BF16'): number {
  let total = 0;
  for (const [name, shape] of expectedWeightShapes(spec)) {
    const [rows, cols] = rowsCols(shape);
    total += segmentBytes(storedFormatFor(name, shape, sourceDtype, quant), rows, cols);
  }
  return total;
}

interface PlannedTensor {
  name: string;
  file: string;
  info: TensorInfo;
  format: StoredFormat;
  rows: number;
  cols: number;
}

/** Accumulates row ranges into chunks; commits a chunk + progress record when one fills. */
class ChunkPacker {
  private pieces: Uint8Array[] = [];
  private size = 0;
  private cur: StoredTensorEntry | null = null;
  private open: { rowStart: number; rows: number; q: Uint8Array[]; s: Uint8Array[]; bytes: number } | null = null;
  storedBytes: number;

  private lastCommit: number;

  constructor(
    private readonly store: ModelStore,
    private readonly rec: ImportProgressRecord,
    private readonly chunkBytes: number,
    private readonly commitEveryMs: number,
    private readonly now: () => number,
  ) {
    this.lastCommit = now();
    this.storedBytes = storedBytes(rec);
  }

  beginTensor(t: PlannedTensor, resumed: StoredTensorEntry | null): number {
    this.cur = resumed && resumed.name === t.name ? structuredClone(resumed) : { name: t.name, shape: t.info.shape.slice(), format: t.format, rows: t.rows, cols: t.cols, segments: [] };
    return this.cur.segments.reduce((a, s) => a + s.rows, 0);
  }

  /**
   * Commits first when `bytes` more would overflow the chunk, or when the last commit is older
   * than the commit interval (a slow download then loses at most that much on a crash). Call it
   * BEFORE reading those bytes, so the checkpoint matches what is committed.
   */
  async reserve(bytes: number, checkpoint: () => StreamCheckpoint, sourceDone: number): Promise<void> {
    if (this.size === 0) return;
    if (this.size + bytes > this.chunkBytes || this.now() - this.lastCommit >= this.commitEveryMs) await this.commit(checkpoint(), sourceDone);
  }

  append(rowStart: number, rows: number, q: Uint8Array, s: Uint8Array | null): void {
    const bytes = q.byteLength + (s?.byteLength ?? 0);
    if (this.open && this.open.rowStart + this.open.rows === rowStart) {
      this.open.rows += rows;
    } else {
      this.closeSegment();
      this.open = { rowStart, rows, q: [], s: [], bytes: 0 };
    }
    this.open.q.push(q);
    if (s) this.open.s.push(s);
    this.open.bytes += bytes;
    this.size += bytes;
  }

  endTensor(): void {
    this.closeSegment();
    this.rec.tensors.push(this.cur!);
    this.cur = null;
  }

  private closeSegment(): void {
    const o = this.open;
    if (!o) return;
    this.open = null;
    const offset = this.pieces.reduce((a, p) => a + p.byteLength, 0);
    for (const p of o.q) this.pieces.push(p);
    for (const p of o.s) this.pieces.push(p);
    this.cur!.segments.push({ chunk: this.rec.chunks.length, offset, bytes: o.bytes, rowStart: o.rowStart, rows: o.rows });
  }

  /** Writes the chunk being filled (if any), then the progress record. */
  async commit(checkpoint: StreamCheckpoint | null, sourceDone: number): Promise<void> {
    this.closeSegment();
    if (this.size > 0) {
      const chunk = new Uint8Array(this.size);
      let o = 0;
      for (const p of this.pieces) {
        chunk.set(p, o);
        o += p.byteLength;
      }
      const entry = await this.store.putChunk(this.rec.key, this.rec.chunks.length, chunk);
      this.rec.chunks.push(entry);
      this.storedBytes += entry.bytes;
      this.pieces = [];
      this.size = 0;
    }
    this.rec.current = this.cur ? structuredClone(this.cur) : null;
    this.rec.checkpoint = checkpoint;
    this.rec.sourceBytesDone = sourceDone;
    this.rec.updatedAt = new Date().toISOString();
    await this.store.putProgress(this.rec);
    this.lastCommit = this.now();
  }
}

/**
 * Imports (or resumes importing) a model into the library and returns its manifest. An already
 * complete model under the same key is returned as is.
 */
export async function importModel(opts: ImportOptions): Promise<ModelManifest> {
  const { store, source, quant, signal } = opts;
  const chunkBytes = Math.min(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES);
  const rowGroupBytes = Math.max(1024, opts.rowGroupBytes ?? 4 * 1024 * 1024);
  const key = opts.key ?? modelKey(source.kind, source.id, source.revision, quant);
  const name = opts.name ?? source.id;
  const now = opts.now ?? (() => (typeof performance !== 'undefined' ? performance.now() : Date.now()));
  const aborted = (): void => {
    if (signal?.aborted) throw new HubAbortError();
  };
  const fail = (msg: string): never => {
    throw new ImportError(`${source.id}: ${msg}`);
  };

  const existing = await store.manifest(key);
  if (existing) return existing;
  const previous = await store.progress(key);
  if (previous && previous.quant !== quant) throw new ImportError(`${key}: an unfinished import with ${previous.quant} exists under this key`);

  let download: DownloadProgress | null = null;
  let tracker: DownloadTracker | null = null;
  const t0 = now();
  let sessionBytes = 0;
  let rec: ImportProgressRecord;
  let packer: ChunkPacker | null = null;
  let tensorsTotal = 0;
  const emit = (phase: ImportProgress['phase'], file: string | null, tensor: string | null): void => {
    if (!opts.onProgress) return;
    const dt = (now() - t0) / 1000;
    opts.onProgress({
      phase,
      file,
      tensor,
      tensorsDone: rec.tensors.length,
      tensorsTotal,
      bytesDone: rec.sourceBytesDone,
      bytesTotal: rec.sourceBytesTotal,
      bytesPerSec: dt > 0 ? sessionBytes / dt : 0,
      storedBytes: packer?.storedBytes ?? 0,
      expectedBytes: rec.expectedBytes,
      download,
      resumed: previous !== null,
    });
  };

  // ---- small files and config ----
  rec = previous ?? {
    key,
    name,
    source: source.kind,
    hubId: source.kind === 'hub' ? source.id : null,
    revision: source.revision,
    quant,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    files: [],
    chunks: [],
    tensors: [],
    current: null,
    sourceFiles: [],
    fileIndex: 0,
    checkpoint: null,
    fileStart: { chunks: 0, tensors: 0 },
    sourceBytesDone: 0,
    sourceBytesTotal: 0,
    expectedBytes: 0,
  };
  emit('files', null, null);
  const configText = await source.text('config.json', signal);
  if (configText === null) throw new ImportError(`${source.id}: config.json is missing`);
  const configJson = parseUntrustedJson(configText, `${source.id}/config.json`, {}, (_field, detail) => {
    throw new ImportError(`${source.id}/config.json ${detail}`);
  });
  const spec = parseModelConfig(configJson, `${source.id}/config.json`); // unsupported architectures fail here
  aborted();

  // ---- weights files and headers ----
  let fileNames: string[];
  let weightMap: Map<string, string> | null = null;
  const single = await source.stat(SINGLE_FILE, signal);
  const sourceFiles: SourceFileEntry[] = [];
  if (single) {
    fileNames = [SINGLE_FILE];
    sourceFiles.push(single);
  } else {
    const indexText = await source.text(INDEX_FILE, signal);
    if (indexText === null) throw new ImportError(`${source.id}: no ${SINGLE_FILE} or ${INDEX_FILE} (only safetensors weights are supported)`);
    weightMap = parseWeightIndex(indexText, fail);
    fileNames = [...new Set(weightMap.values())];
    for (const f of fileNames) {
      const st = await source.stat(f, signal);
      if (!st) throw new ImportError(`${source.id}: shard "${f}" named in ${INDEX_FILE} does not exist`);
      sourceFiles.push(st);
    }
  }
  if (previous) {
    const same =
      previous.sourceFiles.length === sourceFiles.length &&
      previous.sourceFiles.every((f, i) => f.name === sourceFiles[i].name && f.size === sourceFiles[i].size && f.sha256 === sourceFiles[i].sha256);
    if (!same) {
      throw new ImportError(`${name}: the model's files changed since this import started; delete the unfinished import and start again.`);
    }
  }
  const headers = new Map<string, SafetensorsIndex>();
  for (const f of sourceFiles) headers.set(f.name, await source.header(f, signal));
  aborted();

  // Every tensor the engine needs: present, right shape, float dtype, in the file the index says
  // (the same checks as a folder's WeightSource).
  const expected = expectedWeightShapes(spec);
  const fileOf = weightMap ?? new Map([...expected.keys()].map((t) => [t, SINGLE_FILE]));
  const wanted = new Map<string, PlannedTensor>();
  for (const [tname, { file, info }] of checkWeightHeaders(expected, fileOf, headers, fail)) {
    const [rows, cols] = rowsCols(info.shape);
    wanted.set(tname, { name: tname, file, info, format: storedFormatFor(tname, info.shape, info.dtype, quant), rows, cols });
  }
  tensorsTotal = wanted.size;

  const smallFiles: Array<[string, string]> = [['config.json', configText]];
  for (const f of MODEL_TEXT_FILES.slice(1)) {
    if (rec.files.some((e) => e.name === f)) continue;
    const t = await source.text(f, signal);
    if (t !== null) smallFiles.push([f, t]);
  }
  const smallBytes = smallFiles.reduce((a, [, t]) => a + new TextEncoder().encode(t).byteLength, 0);
  let expectedBytes = smallBytes;
  for (const t of wanted.values()) expectedBytes += segmentBytes(t.format, t.rows, t.cols);
  if (!previous) {
    rec.sourceFiles = sourceFiles;
    rec.sourceBytesTotal = sourceFiles.reduce((a, f) => a + f.size, 0);
    rec.expectedBytes = expectedBytes;
  }

  // ---- quota, then start writing ----
  const alreadyStored = storedBytes(rec);
  await checkStorageQuota(Math.max(0, expectedBytes - alreadyStored), opts.storage);
  for (const [f, t] of smallFiles) {
    if (!rec.files.some((e) => e.name === f)) rec.files.push(await store.putFile(key, f, t));
  }
  packer = new ChunkPacker(store, rec, chunkBytes, (opts.commitEverySeconds ?? 5) * 1000, now);
  await store.putProgress(rec);

  if (source.kind === 'hub') {
    tracker = new DownloadTracker(new Map(sourceFiles.map((f) => [f.name, f.size])), (p) => (download = p), now);
    // Files finished before a resume count as done.
    for (let j = 0; j < rec.fileIndex; j++) tracker.skip(rec.sourceFiles[j].name, rec.sourceFiles[j].size);
  }
  const done = new Set(rec.tensors.map((t) => t.name));

  // ---- weights, file by file, tensor by tensor ----
  for (let fi = rec.fileIndex; fi < rec.sourceFiles.length; fi++) {
    const sf = rec.sourceFiles[fi];
    const index = headers.get(sf.name)!;
    const resume = fi === rec.fileIndex ? rec.checkpoint : null;
    if (!resume) rec.fileStart = { chunks: rec.chunks.length, tensors: rec.tensors.length };
    if (tracker && resume) tracker.skip(sf.name, resume.offset);
    const fileBase = rec.sourceFiles.slice(0, fi).reduce((a, f) => a + f.size, 0);
    const reader = await source.open(sf, {
      signal,
      resume,
      onBytes: (n) => {
        tracker?.add(sf.name, n);
      },
    });
    try {
      for (const [tname, info] of index.tensors) {
        const plan = wanted.get(tname);
        if (!plan || plan.file !== sf.name || done.has(tname)) continue;
        const rowsDone = packer.beginTensor(plan, rec.current);
        const rowBytes = plan.cols * (info.end - info.begin) / Math.max(1, plan.rows * plan.cols);
        const storedRow = segmentBytes(plan.format, 1, plan.cols);
        if (storedRow > chunkBytes) throw new ImportError(`${tname}: one row (${storedRow} bytes) is larger than a chunk`);
        const groupRows = Math.max(1, Math.min(Math.floor(rowGroupBytes / Math.max(1, rowBytes)), Math.floor(chunkBytes / storedRow)));
        for (let r = rowsDone; r < plan.rows; r += groupRows) {
          aborted();
          const g = Math.min(groupRows, plan.rows - r);
          const offset = info.begin + r * rowBytes;
          await packer.reserve(segmentBytes(plan.format, g, plan.cols), () => reader.checkpoint(), fileBase + reader.checkpoint().offset);
          const bytes = await reader.read(offset, g * rowBytes);
          if (SAME_FORMAT[info.dtype] === plan.format) {
            packer.append(r, g, bytes, null); // stored as it comes (bf16 → bf16, f16 → f16, F32 → f32)
          } else {
            const f32 = decodeToF32(bytes, info.dtype as FloatDtype);
            try {
              checkFinitePart(f32, sf.name, tname, r, plan.cols);
            } catch (e) {
              throw new ImportError((e as Error).message);
            }
            if (plan.format === 'int8' || plan.format === 'int4') {
              const qt = quantize(f32, g, plan.cols, plan.format);
              packer.append(r, g, new Uint8Array(qt.qweight.buffer), new Uint8Array(qt.scales.buffer));
            } else {
              if (plan.format === 'f16') {
                for (let i = 0; i < f32.length; i++) {
                  if (Math.abs(f32[i]) > F16_MAX) throw new ImportError(`${tname}: value ${f32[i]} does not fit 16-bit floats; import with int8 instead`);
                }
              }
              packer.append(r, g, encodeF32As(f32, plan.format), null);
            }
          }
          sessionBytes += bytes.byteLength;
          rec.sourceBytesDone = fileBase + offset + bytes.byteLength;
          emit('weights', sf.name, tname);
        }
        packer.endTensor();
        rec.current = null;
        done.add(tname);
        emit('weights', sf.name, tname);
      }
      emit('checking', sf.name, null);
      await reader.finish();
    } catch (e) {
      await reader.close();
      if (e instanceof HubIntegrityError) await rollbackFile(store, rec, fi);
      throw e;
    }
    rec.fileIndex = fi + 1;
    await packer.commit(null, fileBase + sf.size);
    aborted();
  }

  // ---- the manifest, last ----
  emit('finishing', null, null);
  const missing = [...wanted.keys()].filter((n) => !done.has(n));
  if (missing.length) throw new StoreError(`${name}: import ended without ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}`);
  const order = new Map([...expected.keys()].map((n, i) => [n, i]));
  const manifest: ModelManifest = {
    format: 'lora-studio-model',
    version: 1,
    ...modelIdentity(rec),
    key,
    quant,
    createdAt: new Date().toISOString(),
    totalBytes: storedBytes(rec),
    files: rec.files,
    chunks: rec.chunks,
    tensors: [...rec.tensors].sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0)),
    sourceFiles: rec.sourceFiles,
  };
  await store.putManifest(manifest);
  emit('done', null, null);
  return manifest;
}

/** Drops what was stored from file `fi` on, so the next attempt downloads it again. */
async function rollbackFile(store: ModelStore, rec: ImportProgressRecord, fi: number): Promise<void> {
  for (let n = rec.fileStart.chunks; n < rec.chunks.length; n++) await store.deleteChunk(rec.key, n);
  rec.chunks.length = rec.fileStart.chunks;
  rec.tensors.length = rec.fileStart.tensors;
  rec.current = null;
  rec.checkpoint = null;
  rec.fileIndex = fi;
  rec.sourceBytesDone = rec.sourceFiles.slice(0, fi).reduce((a, f) => a + f.size, 0);
  rec.updatedAt = new Date().toISOString();
  await store.putProgress(rec);
}
