// Hub dataset files kept in the browser (IndexedDB through the model store's KeyValue, in its own
// database), so a reload or an offline visit reuses a split instead of downloading it again:
//   f|<file>          StoredDatasetFile: a complete file's manifest, written LAST (after every chunk)
//   c|<file>|<n>      Uint8Array: the file's n-th chunk (CHUNK_BYTES each, the last shorter)
//   p|<file>          PartialDatasetFile: a download under way (the chunks kept, the SHA-256 state there)
//   r|<hub>|<hub:…>   ResolvedSplit: the last resolution of a reference (offline use)
// with <file> = <id>|<commit>|<source>|<path>. A manifest exists only for a whole, verified file
// (size, and the SHA-256 the Hub announces); a dropped download resumes from its last whole chunk
// (Range request, hashing on from the state kept). Memory KeyValue in tests.
import { DownloadTracker, HubCorsError, HubIntegrityError, HubNetworkError, type DownloadProgress, type HubFileInfo } from './download';
import type { Sha256State } from './sha256';
import { datasetClient, formatHubDataRef, resolveHubDataset, type DatasetAccess, type HubDataRef, type ResolvedSplit } from './datasets';
import { downloadSplitFile, statSplitFile } from './dataset-download';
import type { KeyValue } from './store';

export const DATASET_DB = 'lora-studio-datasets';

/** Bytes per stored chunk (a resume restarts at most one chunk back). */
export const CHUNK_BYTES = 16 << 20;

export interface StoredDatasetFile {
  path: string;
  size: number;
  sha256: string | null;
  chunks: number;
}

interface PartialDatasetFile {
  size: number;
  sha256: string | null;
  /** Bytes kept in whole chunks, and the SHA-256 state over them. */
  offset: number;
  hash: Sha256State | null;
}

export interface SplitFiles {
  split: ResolvedSplit;
  files: { path: string; bytes: Uint8Array }[];
  /** Every file came from the store (nothing downloaded). */
  fromStore: boolean;
  /** The Hub could not be reached: the last resolution and the kept files were used. */
  offline: boolean;
}

const fileKey = (s: ResolvedSplit, path: string): string => `${s.id}|${s.sha}|${s.source}|${path}`;
const refKey = (hubUrl: string, ref: HubDataRef): string => `r|${hubUrl}|${formatHubDataRef(ref)}`;
const unreachable = (e: unknown): boolean => e instanceof HubNetworkError || e instanceof HubCorsError;

function isStored(v: unknown): v is StoredDatasetFile {
  const f = v as StoredDatasetFile;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(f.size) && Number.isSafeInteger(f.chunks);
}

/** A kept file's bytes from its chunks; null when a chunk is missing or the sizes disagree. */
async function readKept(kv: KeyValue, key: string, f: StoredDatasetFile): Promise<Uint8Array | null> {
  const out = new Uint8Array(f.size);
  let at = 0;
  for (let n = 0; n < f.chunks; n++) {
    const c = await kv.get(`c|${key}|${n}`);
    if (!(c instanceof Uint8Array) || at + c.byteLength > f.size) return null;
    out.set(c, at);
    at += c.byteLength;
  }
  return at === f.size ? out : null;
}

/**
 * Downloads a file into chunks, resuming a kept partial download when it is of the same announced
 * file; writes the manifest last. Returns the bytes.
 */
async function downloadKept(
  kv: KeyValue,
  key: string,
  client: ReturnType<typeof datasetClient>,
  split: ResolvedSplit,
  f: ResolvedSplit['files'][number],
  info: HubFileInfo,
  o: { signal?: AbortSignal; onBytes: (n: number) => void; skip: (n: number) => void; chunk: number },
): Promise<Uint8Array> {
  const CHUNK = o.chunk;
  const part = (await kv.get(`p|${key}`)) as PartialDatasetFile | undefined;
  const bytes = new Uint8Array(info.size);
  let offset = 0;
  let hash: Sha256State | null = null;
  if (part && part.size === info.size && part.sha256 === info.sha256 && part.offset % CHUNK === 0 && part.offset <= info.size) {
    const kept = await readKept(kv, key, { path: f.path, size: part.offset, sha256: null, chunks: part.offset / CHUNK });
    if (kept && (part.hash !== null || info.sha256 === null)) {
      bytes.set(kept);
      offset = part.offset;
      hash = part.hash;
    }
  }
  o.skip(offset);
  let n = offset / CHUNK;
  try {
    await downloadSplitFile(client, split, info, { offset, hash, write: async (b, at) => bytes.set(b, at) }, {
      signal: o.signal,
      onBytes: o.onBytes,
      pieceBytes: CHUNK,
      // Each whole chunk is kept with the stream's state after it: a later try resumes there.
      onPiece: async (c) => {
        await kv.set(`c|${key}|${n}`, bytes.slice(n * CHUNK, c.offset));
        n++;
        const progress: PartialDatasetFile = { size: info.size, sha256: info.sha256, offset: c.offset, hash: c.hash };
        await kv.set(`p|${key}`, progress);
      },
    });
  } catch (e) {
    // Bytes that fail the check are not resumed from.
    if (e instanceof HubIntegrityError) await kv.del(`p|${key}`);
    throw e;
  }
  const manifest: StoredDatasetFile = { path: f.path, size: info.size, sha256: info.sha256, chunks: n };
  await kv.set(`f|${key}`, manifest);
  await kv.del(`p|${key}`);
  return bytes;
}

/**
 * The files of `ref`'s split: resolved on the Hub (or, unreachable, from the last resolution kept),
 * each from the store when kept with the size and SHA-256 the Hub announces now, else downloaded,
 * verified and kept. Throws HubDatasetError (named, nothing stored for a gated dataset without a
 * token) and HubClient's errors.
 */
export async function loadSplitFiles(
  kv: KeyValue,
  ref: HubDataRef,
  access: DatasetAccess,
  o: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void; chunkBytes?: number } = {},
): Promise<SplitFiles> {
  let split: ResolvedSplit;
  let offline = false;
  try {
    split = await resolveHubDataset(ref, access);
  } catch (e) {
    const kept = unreachable(e) ? ((await kv.get(refKey(access.hubUrl, ref))) as ResolvedSplit | undefined) : undefined;
    if (!kept) throw e;
    split = kept;
    offline = true;
  }
  const client = datasetClient(access);
  const sizes = new Map<string, number>();
  const tracker = new DownloadTracker(sizes, o.onProgress);
  const files: SplitFiles['files'] = [];
  let fromStore = true;
  for (const f of split.files) {
    const key = fileKey(split, f.path);
    const manifest = await kv.get(`f|${key}`);
    const kept = isStored(manifest) ? await readKept(kv, key, manifest) : null;
    if (offline) {
      if (!kept) throw new HubNetworkError(`The Hub is unreachable and ${f.path} of ${split.id} is not kept in this browser.`);
      files.push({ path: f.path, bytes: kept });
      continue;
    }
    let info: HubFileInfo;
    try {
      info = await statSplitFile(client, split, f, o.signal);
    } catch (e) {
      if (!unreachable(e) || !kept) throw e;
      files.push({ path: f.path, bytes: kept });
      offline = true;
      continue;
    }
    sizes.set(f.path, info.size);
    if (kept && isStored(manifest) && manifest.size === info.size && manifest.sha256 === info.sha256) {
      tracker.skip(f.path, info.size);
      files.push({ path: f.path, bytes: kept });
      continue;
    }
    fromStore = false;
    const bytes = await downloadKept(kv, key, client, split, f, info, { signal: o.signal, onBytes: (n) => tracker.add(f.path, n), skip: (n) => tracker.skip(f.path, n), chunk: o.chunkBytes ?? CHUNK_BYTES });
    files.push({ path: f.path, bytes });
  }
  if (!offline) await kv.set(refKey(access.hubUrl, ref), split);
  return { split, files, fromStore, offline };
}

/** Keys of the kept files of a dataset (every commit), for the tests and a library view. */
export async function storedDatasetKeys(kv: KeyValue, id: string): Promise<string[]> {
  return (await kv.keys()).filter((k) => k.startsWith(`f|${id}|`));
}
