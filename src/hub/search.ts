// Model and dataset search on the Hub. Models, for the model field: `@huggingface/hub`'s listModels (GET /api/models with
// the `config` and `safetensors` fields), kept to the architectures the engine trains
// (SUPPORTED_ARCHITECTURES, the one list config.ts refuses the others by), and each shown model's
// config.json read into a ModelSpec so the page can run the one memory estimate on it.
// Datasets, for the dataset id field: `listDatasets` with the downloads, gated / private marks and
// the card's size category. Both go through one listing call (the token rule, the error mapping).
// No React, no store: the page's hook (src/ui/model/useHubSearch.ts) debounces and aborts.
import { HubApiError, listDatasets, listModels } from '@huggingface/hub';
import { parseModelConfig } from '../engine/model/config';
import type { ModelSpec } from '../engine/model/spec';
import { hasOwn, parseUntrustedJson } from '../io/untrusted/json';
import { HubClient } from './download';
import { guardedFetch } from './hub-fetch';

/** The Hub could not be reached (no network, DNS, refused connection, CORS): the library answers alone. */
export class HubUnreachableError extends Error {
  override name = 'HubUnreachableError';
}

/** One listing as the search reads it (listModels' entry with config and safetensors). */
export interface ListedEntry {
  name: string;
  downloads: number;
  gated: false | 'auto' | 'manual';
  private: boolean;
  config?: { architectures?: unknown; model_type?: unknown } | null;
  safetensors?: { total?: unknown } | null;
}

export interface HubModelHit {
  id: string;
  architecture: string;
  /** Parameters from the Hub's safetensors metadata, or null when it has none. */
  params: number | null;
  downloads: number;
  gated: boolean;
  private: boolean;
}

export interface SearchResult {
  hits: HubModelHit[];
  /** Listings left out: their architecture is not one the engine trains (or they have no config). */
  hidden: { id: string; architecture: string | null }[];
}

/** Listings the search asks for; the page shows the supported ones among them. */
export const SEARCH_LIMIT = 40;

/** The first architecture a listing names, when it is a string. */
function architectureOf(e: ListedEntry): string | null {
  const a = e.config?.architectures;
  return Array.isArray(a) && typeof a[0] === 'string' ? a[0] : null;
}

/** Splits listings into those the engine trains (by their config's architecture) and the rest. */
export function filterListings(entries: readonly ListedEntry[], supported: Readonly<Record<string, unknown>>): SearchResult {
  const hits: HubModelHit[] = [];
  const hidden: SearchResult['hidden'] = [];
  for (const e of entries) {
    const architecture = architectureOf(e);
    if (architecture === null || !hasOwn(supported, architecture)) {
      hidden.push({ id: e.name, architecture });
      continue;
    }
    const total = e.safetensors?.total;
    hits.push({
      id: e.name,
      architecture,
      params: typeof total === 'number' && Number.isFinite(total) && total > 0 ? total : null,
      downloads: e.downloads,
      gated: e.gated !== false && e.gated !== undefined,
      private: e.private,
    });
  }
  return { hits, hidden };
}

export interface SearchOptions {
  hubUrl: string;
  /** Sent only where mayReceiveToken allows (trusted); shows the user's private models. */
  token: string | null;
  trusted: readonly string[];
  signal: AbortSignal;
}

const isAbort = (e: unknown, signal: AbortSignal): boolean => signal.aborted || (e instanceof DOMException && e.name === 'AbortError');

/** The parameters both listings take: the query, the Hub, the token (where trusted), the abort. */
function listingParams(query: string, o: SearchOptions) {
  return {
    search: { query },
    hubUrl: o.hubUrl,
    sort: 'downloads',
    limit: SEARCH_LIMIT,
    ...(o.token ? { accessToken: o.token } : {}),
    fetch: guardedFetch(o.token, o.trusted, o.signal),
  } as const;
}

/** The entries of a listing. Throws HubUnreachableError when the Hub cannot be reached or refuses. */
async function collect<T>(listing: AsyncIterable<unknown>, o: SearchOptions): Promise<T[]> {
  const entries: T[] = [];
  try {
    for await (const e of listing) entries.push(e as T);
  } catch (e) {
    if (isAbort(e, o.signal)) throw e;
    if (e instanceof HubApiError) throw new HubUnreachableError(`The Hub at ${new URL(o.hubUrl).host} answered the search with HTTP ${e.statusCode}: ${e.message}`);
    if (e instanceof TypeError) throw new HubUnreachableError(`The Hub at ${new URL(o.hubUrl).host} is unreachable (${e.message}).`);
    throw e;
  }
  return entries;
}

/** Searches the Hub's models by name. Throws HubUnreachableError when the Hub cannot be reached. */
export async function searchHub(query: string, supported: Readonly<Record<string, unknown>>, o: SearchOptions): Promise<SearchResult> {
  const entries = await collect<ListedEntry>(listModels({ ...listingParams(query, o), additionalFields: ['config', 'safetensors'] }), o);
  return filterListings(entries, supported);
}

export interface HubDatasetHit {
  id: string;
  downloads: number;
  /** The card's size category (rows), e.g. "10K<n<100K", or null. */
  size: string | null;
  gated: boolean;
  private: boolean;
}

/** A dataset listing as the search reads it (listDatasets' entry with cardData). */
export interface ListedDataset {
  name: string;
  downloads: number;
  gated: false | 'auto' | 'manual';
  private: boolean;
  cardData?: { size_categories?: unknown } | null;
}

export function datasetHit(e: ListedDataset): HubDatasetHit {
  const sizes = e.cardData?.size_categories;
  const size = Array.isArray(sizes) && typeof sizes[0] === 'string' ? sizes[0] : typeof sizes === 'string' ? sizes : null;
  return { id: e.name, downloads: e.downloads, size, gated: e.gated !== false && e.gated !== undefined, private: e.private };
}

/** Searches the Hub's datasets by name. Throws HubUnreachableError when the Hub cannot be reached. */
export async function searchHubDatasets(query: string, o: SearchOptions): Promise<HubDatasetHit[]> {
  const entries = await collect<ListedDataset>(listDatasets({ ...listingParams(query, o), additionalFields: ['cardData'] }), o);
  return entries.map(datasetHit);
}

/** A listed model's config.json as the engine's ModelSpec (for the memory estimate). Throws what HubClient and parseModelConfig throw. */
export async function fetchModelSpec(id: string, o: SearchOptions): Promise<ModelSpec> {
  const client = new HubClient({ baseUrl: o.hubUrl, token: o.token, tokenOrigins: o.trusted });
  const res = (await client.request(id, 'main', 'config.json', { signal: o.signal }))!;
  const text = await res.text();
  return parseModelConfig(parseUntrustedJson(text, `${id}/config.json`), `${id}/config.json`);
}
