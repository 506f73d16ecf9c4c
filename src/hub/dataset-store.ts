// Hub dataset files kept in the browser (IndexedDB through the model store's KeyValue, in its own
// database), so a reload or an offline visit reuses a split instead of downloading it again:
//   f|<id>|<commit>|<source>|<path>   StoredDatasetFile: a complete file, verified when it was kept
//   r|<hub>|<hub:… reference>         ResolvedSplit: the last resolution of a reference (offline use)
// A file is kept only once whole and verified (size, and the SHA-256 the Hub announces), so a key
// that exists is always a complete file. Memory KeyValue in tests.
import { DownloadTracker, HubCorsError, HubNetworkError, type DownloadProgress } from './download';
import { datasetClient, formatHubDataRef, resolveHubDataset, type DatasetAccess, type HubDataRef, type ResolvedSplit } from './datasets';
import { downloadSplitFile, statSplitFile } from './dataset-download';
import type { KeyValue } from './store';

export const DATASET_DB = 'lora-studio-datasets';

export interface StoredDatasetFile {
  path: string;
  size: number;
  sha256: string | null;
  bytes: Uint8Array;
}

export interface SplitFiles {
  split: ResolvedSplit;
  files: { path: string; bytes: Uint8Array }[];
  /** Every file came from the store (nothing downloaded). */
  fromStore: boolean;
  /** The Hub could not be reached: the last resolution and the kept files were used. */
  offline: boolean;
}

const fileKey = (s: ResolvedSplit, path: string): string => `f|${s.id}|${s.sha}|${s.source}|${path}`;
const refKey = (hubUrl: string, ref: HubDataRef): string => `r|${hubUrl}|${formatHubDataRef(ref)}`;
const unreachable = (e: unknown): boolean => e instanceof HubNetworkError || e instanceof HubCorsError;

function isStored(v: unknown): v is StoredDatasetFile {
  const f = v as StoredDatasetFile;
  return typeof v === 'object' && v !== null && f.bytes instanceof Uint8Array && f.bytes.byteLength === f.size;
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
  o: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {},
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
    const kept = await kv.get(key);
    if (offline) {
      if (!isStored(kept)) throw new HubNetworkError(`The Hub is unreachable and ${f.path} of ${split.id} is not kept in this browser.`);
      files.push({ path: f.path, bytes: kept.bytes });
      continue;
    }
    let info;
    try {
      info = await statSplitFile(client, split, f, o.signal);
    } catch (e) {
      if (!unreachable(e) || !isStored(kept)) throw e;
      files.push({ path: f.path, bytes: kept.bytes });
      offline = true;
      continue;
    }
    sizes.set(f.path, info.size);
    if (isStored(kept) && kept.size === info.size && kept.sha256 === info.sha256) {
      tracker.skip(f.path, info.size);
      files.push({ path: f.path, bytes: kept.bytes });
      continue;
    }
    fromStore = false;
    const bytes = new Uint8Array(info.size);
    await downloadSplitFile(client, split, info, { offset: 0, hash: null, write: async (b, at) => bytes.set(b, at) }, { signal: o.signal, onBytes: (n) => tracker.add(f.path, n) });
    const stored: StoredDatasetFile = { path: f.path, size: info.size, sha256: info.sha256, bytes };
    await kv.set(key, stored);
    files.push({ path: f.path, bytes });
  }
  if (!offline) await kv.set(refKey(access.hubUrl, ref), split);
  return { split, files, fromStore, offline };
}

/** Keys of the kept files of a dataset (every commit), for the tests and a library view. */
export async function storedDatasetKeys(kv: KeyValue, id: string): Promise<string[]> {
  return (await kv.keys()).filter((k) => k.startsWith(`f|${id}|`));
}
