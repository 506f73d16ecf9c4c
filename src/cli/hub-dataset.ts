// `--data hub:ID[@REVISION][:CONFIG][/SPLIT]` in Node: the split resolved on the Hub (src/hub/datasets.ts)
// and its files downloaded into the cache with the models' fetch (HubClient: the one token rule,
// Range resume, size and SHA-256 checks):
//   {cache}/datasets/{id}/{commit}/{parquet|files}/{path}        a complete, verified file
//   {cache}/datasets/{id}/{commit}/{parquet|files}/{path}.part   a download under way (resumed by Range)
//   {cache}/datasets/{id}/{commit}/{parquet|files}/{path}.json   what the Hub announced for it (size, SHA-256, ETag)
//   {cache}/datasets/{id}/refs/{ref}.json                        the last resolution of a reference (used offline)
// The cache is LORA_STUDIO_CACHE, else ~/.cache/lora-studio. The Hub is --hub-endpoint, else
// HF_ENDPOINT, else huggingface.co; HF_TOKEN goes only to that Hub (never to a CDN it redirects to).
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { HubNetworkError, HubIntegrityError, type DownloadProgress, DownloadTracker, type HubFileInfo } from '../hub/download';
import { downloadSplitFile, statSplitFile } from '../hub/dataset-download';
import { checkHubUrl, HUB_URL } from '../hub/endpoint';
import { datasetClient, formatHubDataRef, HubDatasetError, parseHubDataRef, resolveHubDataset, type DatasetAccess, type ResolvedSplit } from '../hub/datasets';
import { Sha256 } from '../hub/sha256';

export { isHubDataRef } from '../hub/datasets';

/** The cache folder: LORA_STUDIO_CACHE, else ~/.cache/lora-studio. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LORA_STUDIO_CACHE?.trim() || join(homedir(), '.cache', 'lora-studio');
}

/** The Hub and token of a command: --hub-endpoint, else HF_ENDPOINT, else huggingface.co; HF_TOKEN. Throws HubEndpointError. */
export function hubAccess(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): DatasetAccess {
  const [raw, where] = flag !== undefined ? [flag, '--hub-endpoint'] : env.HF_ENDPOINT?.trim() ? [env.HF_ENDPOINT, 'HF_ENDPOINT'] : [HUB_URL, 'the default Hub'];
  const hubUrl = checkHubUrl(raw, where);
  return { hubUrl, token: env.HF_TOKEN?.trim() || null, trusted: [new URL(hubUrl).origin] };
}

export interface LocalSplit {
  split: ResolvedSplit;
  /** The split's files on this machine, in the split's order. */
  paths: string[];
  /** Whether the resolution came from the cache because the Hub could not be reached. */
  offline: boolean;
}

/** A path from the Hub as a relative path under the cache: no `..`, no absolute path, no backslash. */
function safeRelative(id: string, path: string): string {
  const parts = path.split('/');
  if (!path || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new HubDatasetError('bad-answer', id, `Dataset ${id} lists a file with an unusable path ${JSON.stringify(path)}`);
  }
  return join(...parts);
}

interface Announced {
  size: number;
  sha256: string | null;
}

/** SHA-256 state of a partly downloaded file's bytes (to go on hashing from where it stopped). */
async function hashOf(path: string): Promise<Sha256> {
  const h = new Sha256();
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Uint8Array);
  return h;
}


/** One file into the cache: reused when complete and the Hub announces the same size and SHA-256; else downloaded or resumed. */
async function cacheFile(
  split: ResolvedSplit,
  client: ReturnType<typeof datasetClient>,
  file: ResolvedSplit['files'][number],
  dest: string,
  tracker: { start(name: string, size: number): void; add(name: string, n: number): void; skip(name: string, n: number): void },
  signal: AbortSignal | undefined,
  piece: number,
): Promise<void> {
  const metaPath = `${dest}.json`;
  const saved = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as Announced) : null;
  let info: HubFileInfo;
  try {
    info = await statSplitFile(client, split, file, signal);
  } catch (e) {
    // Offline: a complete cached file is used as it is.
    if (e instanceof HubNetworkError && saved && existsSync(dest) && statSync(dest).size === saved.size) return;
    throw e;
  }
  tracker.start(file.path, info.size);
  if (saved && existsSync(dest) && saved.size === info.size && saved.sha256 === info.sha256 && statSync(dest).size === info.size) {
    tracker.skip(file.path, info.size);
    return;
  }
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let offset = existsSync(part) ? statSync(part).size : 0;
  // A part from another announcement (the file changed on the Hub) or longer than the file starts over.
  const partMeta = existsSync(`${part}.json`) ? (JSON.parse(readFileSync(`${part}.json`, 'utf8')) as Announced) : null;
  if (offset > info.size || !partMeta || partMeta.size !== info.size || partMeta.sha256 !== info.sha256) offset = 0;
  writeFileSync(`${part}.json`, JSON.stringify({ size: info.size, sha256: info.sha256 }));
  const hash = info.sha256 && offset > 0 ? await hashOf(part) : null;
  tracker.skip(file.path, offset);
  const fh = await open(part, offset > 0 ? 'r+' : 'w');
  try {
    await fh.truncate(offset);
    await downloadSplitFile(client, split, info, {
      offset,
      hash: hash ? hash.state() : null,
      write: async (bytes, at) => {
        await fh.write(bytes, 0, bytes.byteLength, at);
      },
    }, { signal, onBytes: (n) => tracker.add(file.path, n), pieceBytes: piece });
    await fh.sync();
  } catch (e) {
    // Bytes that fail the check are not resumed from: the next try starts over.
    if (e instanceof HubIntegrityError) rmSync(part, { force: true });
    throw e;
  } finally {
    await fh.close();
  }
  if (statSync(part).size !== info.size) throw new HubIntegrityError(`${file.path} of ${split.id}: ${statSync(part).size} bytes stored, the Hub says ${info.size}`);
  renameSync(part, dest);
  writeFileSync(metaPath, JSON.stringify({ size: info.size, sha256: info.sha256 }));
}

export interface FetchOptions {
  cache?: string;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Bytes written to the part file at a time (default 1 MiB). */
  pieceBytes?: number;
}

/**
 * Resolves `hub:…` and brings the split's files into the cache. Throws HubDatasetError (the id,
 * what is wrong), HubClient's errors (auth, network, integrity) and HubEndpointError.
 */
export async function fetchHubDataset(refText: string, access: DatasetAccess, o: FetchOptions = {}): Promise<LocalSplit> {
  const ref = parseHubDataRef(refText);
  const root = join(o.cache ?? cacheDir(), 'datasets', safeRelative(ref.id, ref.id));
  const refFile = join(root, 'refs', `${encodeURIComponent(formatHubDataRef(ref))}.json`);
  let split: ResolvedSplit;
  let offline = false;
  try {
    split = await resolveHubDataset(ref, { ...access, signal: o.signal });
  } catch (e) {
    if (!(e instanceof HubNetworkError) || !existsSync(refFile)) throw e;
    split = JSON.parse(readFileSync(refFile, 'utf8')) as ResolvedSplit;
    offline = true;
  }
  const client = datasetClient(access);
  const sizes = new Map<string, number>();
  const tracker = new DownloadTracker(sizes, o.onProgress);
  const progress = { start: (name: string, size: number) => sizes.set(name, size), add: (n: string, b: number) => tracker.add(n, b), skip: (n: string, b: number) => tracker.skip(n, b) };
  const paths: string[] = [];
  for (const f of split.files) {
    const dest = join(root, split.sha, split.source === 'parquet-conversion' ? 'parquet' : 'files', safeRelative(split.id, f.path));
    await cacheFile(split, client, f, dest, progress, o.signal, o.pieceBytes ?? 1 << 20);
    paths.push(dest);
  }
  if (!offline) {
    mkdirSync(dirname(refFile), { recursive: true });
    writeFileSync(refFile, JSON.stringify(split));
  }
  return { split, paths, offline };
}
