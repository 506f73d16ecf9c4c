// Model search on the Hub for the model field: `@huggingface/hub`'s listModels (GET /api/models with
// the `config` and `safetensors` fields), kept to the architectures the engine trains
// (SUPPORTED_ARCHITECTURES, the one list config.ts refuses the others by), and each shown model's
// config.json read into a ModelSpec so the page can run the one memory estimate on it.
// No React, no store: the page's hook (src/ui/model/useHubSearch.ts) debounces and aborts.
import { HubApiError, listModels } from '@huggingface/hub';
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

/** Searches the Hub's models by name. Throws HubUnreachableError when the Hub cannot be reached. */
export async function searchHub(query: string, supported: Readonly<Record<string, unknown>>, o: SearchOptions): Promise<SearchResult> {
  const entries: ListedEntry[] = [];
  try {
    for await (const e of listModels({
      search: { query },
      hubUrl: o.hubUrl,
      sort: 'downloads',
      limit: SEARCH_LIMIT,
      additionalFields: ['config', 'safetensors'],
      ...(o.token ? { accessToken: o.token } : {}),
      fetch: guardedFetch(o.token, o.trusted, o.signal),
    })) {
      entries.push(e as ListedEntry);
    }
  } catch (e) {
    if (isAbort(e, o.signal)) throw e;
    if (e instanceof HubApiError) throw new HubUnreachableError(`The Hub at ${new URL(o.hubUrl).host} answered the search with HTTP ${e.statusCode}: ${e.message}`);
    if (e instanceof TypeError) throw new HubUnreachableError(`The Hub at ${new URL(o.hubUrl).host} is unreachable (${e.message}).`);
    throw e;
  }
  return filterListings(entries, supported);
}

/** A listed model's config.json as the engine's ModelSpec (for the memory estimate). Throws what HubClient and parseModelConfig throw. */
export async function fetchModelSpec(id: string, o: SearchOptions): Promise<ModelSpec> {
  const client = new HubClient({ baseUrl: o.hubUrl, token: o.token, tokenOrigins: o.trusted });
  const res = (await client.request(id, 'main', 'config.json', { signal: o.signal }))!;
  const text = await res.text();
  return parseModelConfig(parseUntrustedJson(text, `${id}/config.json`), `${id}/config.json`);
}
