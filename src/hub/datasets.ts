// A Hub dataset named `hub:ID[@REVISION][:CONFIG][/SPLIT]`, resolved to the files of one split:
//   1. GET /api/datasets/{id}/revision/{rev}: the commit (sha), gated / private, the repository's files.
//   2. With no revision asked (or `main`): GET /api/datasets/{id}/parquet, the Hub's Parquet conversion
//      ({config: {split: [file URL, …]}}), the same listing `datasets` and the dataset viewer read.
//   3. Else, or where there is no conversion: the repository's own data files (dataset-files.ts groups
//      them into configs and splits as the `datasets` library does).
// Every request goes through HubClient (download.ts): the one token rule (endpoint.ts) and the
// same error mapping as models. A gated dataset without a token stops here, before any file is read.
// Runs in the page and in Node: no Node APIs.
import { hasOwn, parseUntrustedJson } from '../io/untrusted/json';
import { HubAuthError, HubClient, type HubClientOptions } from './download';
import { groupDataFiles, type DataConfig } from './dataset-files';

/** Why a dataset cannot be read; the message names the id (and the configs/splits there are). */
export type HubDatasetProblem = 'bad-ref' | 'not-found' | 'gated' | 'private' | 'no-split' | 'no-config' | 'no-such-split' | 'bad-answer';

export class HubDatasetError extends Error {
  override name = 'HubDatasetError';
  constructor(
    readonly problem: HubDatasetProblem,
    readonly datasetId: string,
    message: string,
    /** The configs (no-config) or splits (no-such-split) that exist. */
    readonly available: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface HubDataRef {
  /** "owner/name". */
  id: string;
  /** null: the default branch (and then the Parquet conversion when there is one). */
  revision: string | null;
  config: string | null;
  split: string | null;
}

export const HUB_DATA_PREFIX = 'hub:';
const REF = /^hub:([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@([^:/@\s]+))?(?::([^/@\s]+))?(?:\/([^/@:\s]+))?$/;

export const isHubDataRef = (s: string): boolean => s.startsWith(HUB_DATA_PREFIX);

/** Parses `hub:ID[@REVISION][:CONFIG][/SPLIT]`. Throws HubDatasetError('bad-ref'). */
export function parseHubDataRef(s: string): HubDataRef {
  const m = REF.exec(s.trim());
  if (!m) {
    throw new HubDatasetError(
      'bad-ref',
      s,
      `${JSON.stringify(s)} is not a Hub dataset reference: expected hub:OWNER/NAME[@REVISION][:CONFIG][/SPLIT] (e.g. hub:yahma/alpaca-cleaned/train)`,
    );
  }
  return { id: m[1], revision: m[2] ?? null, config: m[3] ?? null, split: m[4] ?? null };
}

export function formatHubDataRef(r: HubDataRef): string {
  return `${HUB_DATA_PREFIX}${r.id}${r.revision ? `@${r.revision}` : ''}${r.config ? `:${r.config}` : ''}${r.split ? `/${r.split}` : ''}`;
}

/** One file of a split. */
export interface DatasetFile {
  /** Its path: in the repository, or `{config}/{split}/{n}.parquet` in the Parquet conversion. */
  path: string;
  /** Absolute URL when the file is not at the resolve URL (a Parquet-conversion listing URL). */
  url?: string;
  /** Bytes, when the listing says (the repository's files); else known after a HEAD. */
  size: number | null;
}

export interface HubDatasetInfo {
  id: string;
  /** The revision asked for (null: the default branch). */
  revision: string | null;
  /** The commit the revision is at. */
  sha: string;
  gated: boolean;
  private: boolean;
  /** Where the splits' files come from. */
  source: 'parquet-conversion' | 'repository';
  configs: DataConfig<DatasetFile>[];
}

/** One split, ready to download: the files and the revision their resolve URLs use. */
export interface ResolvedSplit {
  id: string;
  revision: string | null;
  sha: string;
  config: string;
  split: string;
  source: HubDatasetInfo['source'];
  /** The revision repository files are read at (the commit, so a later push changes nothing). */
  fileRevision: string;
  files: DatasetFile[];
}

export interface DatasetAccess {
  hubUrl: string;
  /** Sent only where mayReceiveToken allows. */
  token: string | null;
  /** Origins trusted with the token (default: hubUrl's). */
  trusted?: readonly string[];
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export function datasetClient(a: DatasetAccess): HubClient {
  const o: HubClientOptions = { baseUrl: a.hubUrl, token: a.token, repoType: 'dataset', ...(a.trusted ? { tokenOrigins: a.trusted } : {}), ...(a.fetch ? { fetch: a.fetch } : {}) };
  return new HubClient(o);
}

/** A JSON answer of the Hub API (null on 404), with the token rule and error mapping of every download. */
async function apiJson(client: HubClient, id: string, path: string, what: string, signal?: AbortSignal): Promise<unknown> {
  const res = await client.request(id, 'main', what, { url: `${client.baseUrl}${path}`, signal, missingOk: true });
  if (!res) return null;
  return parseUntrustedJson(await res.text(), `${what} of ${id}`);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The path of a conversion file inside the conversion: the part of its URL after `/parquet/`. */
function conversionPath(url: string, config: string, split: string, i: number): string {
  const m = /\/parquet\/(.+)$/.exec(new URL(url).pathname);
  return m ? m[1].split('/').map(decodeURIComponent).join('/') : `${config}/${split}/${i}.parquet`;
}

/** The Parquet conversion's configs, or null when the dataset has none. */
function conversionConfigs(v: unknown, id: string, base: string): DataConfig<DatasetFile>[] | null {
  if (!isRecord(v)) return null;
  const configs: DataConfig<DatasetFile>[] = [];
  for (const [config, splits] of Object.entries(v)) {
    if (!isRecord(splits)) throw new HubDatasetError('bad-answer', id, `The Hub's Parquet listing of ${id} is malformed at config ${JSON.stringify(config)}`);
    const out: DataConfig<DatasetFile>['splits'] = [];
    for (const [split, urls] of Object.entries(splits)) {
      if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')) {
        throw new HubDatasetError('bad-answer', id, `The Hub's Parquet listing of ${id} is malformed at ${config}/${split}`);
      }
      // Relative URLs are taken against the Hub; absolute ones keep their host (no token unless trusted).
      const files = (urls as string[]).map((u, i) => {
        const url = new URL(u, `${base}/`).href;
        return { path: conversionPath(url, config, split, i), url, size: null };
      });
      if (files.length) out.push({ name: split, files });
    }
    if (out.length) configs.push({ name: config, splits: out });
  }
  return configs.length ? configs : null;
}

/**
 * What a dataset holds: its commit, access marks and configs/splits. Throws HubDatasetError
 * (not-found, private, gated without a token, no usable split) and HubClient's errors (network, HTTP).
 */
export async function datasetInfo(ref: Pick<HubDataRef, 'id' | 'revision'>, a: DatasetAccess): Promise<HubDatasetInfo> {
  const client = datasetClient(a);
  const { id } = ref;
  const rev = ref.revision ?? 'main';
  let info: unknown;
  try {
    info = await apiJson(client, id, `/api/datasets/${id}/revision/${encodeURIComponent(rev)}`, 'dataset info', a.signal);
  } catch (e) {
    // The Hub answers 401 for a repository it does not show this caller: unknown, or private.
    if (e instanceof HubAuthError) {
      throw client.hasToken
        ? new HubDatasetError('private', id, `Dataset ${id} is private (or does not exist), and the access token given may not read it.`)
        : new HubDatasetError('not-found', id, `Dataset ${id} does not exist on the Hub, or is private: check the id; if it is yours, give an access token.`);
    }
    throw e;
  }
  if (info === null) {
    throw new HubDatasetError('not-found', id, ref.revision ? `Dataset ${id} has no revision ${JSON.stringify(ref.revision)} (or does not exist).` : `Dataset ${id} does not exist on the Hub.`);
  }
  if (!isRecord(info) || typeof info.sha !== 'string') throw new HubDatasetError('bad-answer', id, `The Hub's answer about dataset ${id} has no commit (sha)`);
  const gated = info.gated !== false && info.gated !== undefined && info.gated !== null;
  if (gated && !client.hasToken) {
    throw new HubDatasetError('gated', id, `Dataset ${id} is gated: accept its conditions on its Hugging Face page, then give an access token (Settings → Access Tokens on huggingface.co). Nothing was downloaded.`);
  }
  const base = { id, revision: ref.revision, sha: info.sha, gated, private: info.private === true };
  if (ref.revision === null || ref.revision === 'main') {
    const listing = await apiJson(client, id, `/api/datasets/${id}/parquet`, 'Parquet listing', a.signal);
    const configs = conversionConfigs(listing, id, client.baseUrl);
    if (configs) return { ...base, source: 'parquet-conversion', configs };
  }
  const siblings = Array.isArray(info.siblings) ? info.siblings : [];
  const files = siblings.flatMap((s): { path: string; size: number | null }[] =>
    isRecord(s) && typeof s.rfilename === 'string' ? [{ path: s.rfilename, size: typeof s.size === 'number' ? s.size : null }] : [],
  );
  const card = isRecord(info.cardData) && hasOwn(info.cardData, 'configs') ? info.cardData.configs : undefined;
  const configs = groupDataFiles(files, card);
  if (!configs.length) {
    throw new HubDatasetError('no-split', id, `Dataset ${id} has no usable split: no Parquet conversion and no .parquet, .jsonl, .json or .csv data files in the repository.`);
  }
  return { ...base, source: 'repository', configs };
}

/** The config and split a reference names, else the defaults (config "default" or the only one; split "train" or the only one). */
export function chooseSplit(info: HubDatasetInfo, config: string | null, split: string | null): ResolvedSplit {
  const names = info.configs.map((c) => c.name);
  const c = config === null
    ? (info.configs.find((x) => x.name === 'default') ?? (info.configs.length === 1 ? info.configs[0] : undefined))
    : info.configs.find((x) => x.name === config);
  if (!c) {
    throw new HubDatasetError(
      'no-config',
      info.id,
      config === null
        ? `Dataset ${info.id} has several configs and none is "default": name one (hub:${info.id}:CONFIG): ${names.join(', ')}`
        : `Dataset ${info.id} has no config ${JSON.stringify(config)}; it has ${names.join(', ')}`,
      names,
    );
  }
  const splits = c.splits.map((s) => s.name);
  const s = split === null ? (c.splits.find((x) => x.name === 'train') ?? (c.splits.length === 1 ? c.splits[0] : undefined)) : c.splits.find((x) => x.name === split);
  if (!s) {
    throw new HubDatasetError(
      'no-such-split',
      info.id,
      split === null
        ? `Dataset ${info.id} (config ${c.name}) has no "train" split: name one (/SPLIT): ${splits.join(', ')}`
        : `Dataset ${info.id} (config ${c.name}) has no split ${JSON.stringify(split)}; it has ${splits.join(', ')}`,
      splits,
    );
  }
  return {
    id: info.id,
    revision: info.revision,
    sha: info.sha,
    config: c.name,
    split: s.name,
    source: info.source,
    fileRevision: info.sha,
    files: s.files,
  };
}

/** `hub:…` to the split's files. Throws what datasetInfo and chooseSplit throw. */
export async function resolveHubDataset(ref: HubDataRef, a: DatasetAccess): Promise<ResolvedSplit> {
  return chooseSplit(await datasetInfo(ref, a), ref.config, ref.split);
}

/** A Hub dataset's split as a recipe and a model card name it (train.py loads it with datasets.load_dataset). */
export interface HubDatasetSource {
  id: string;
  config: string;
  split: string;
  /** The commit the split was read at. */
  revision: string;
}

/** How a resolved split is named in a card, a recipe and messages: `id` (config, split) at the commit. */
export function describeSplit(s: Pick<ResolvedSplit, 'id' | 'config' | 'split' | 'sha'>): string {
  return `${s.id} (config ${s.config}, split ${s.split}, commit ${s.sha.slice(0, 12)})`;
}
