// The Hub searches of the page (the model field, the dataset id field): one hook that waits until
// typing pauses and aborts the previous search when the text changes (useHubListing); the model
// search then reads the config.json of the first results the user may read (not gated, or a token
// the Hub may receive) so the page can estimate their memory.
import { useEffect, useRef, useState } from 'react';
import { SUPPORTED_ARCHITECTURES } from '../../engine/model/config';
import type { ModelSpec } from '../../engine/model/spec';
import { HubUnreachableError, fetchModelSpec, searchHub, searchHubDatasets, type HubDatasetHit, type SearchOptions, type SearchResult } from '../../hub/search';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';

/** Milliseconds of quiet typing before a search starts. */
export const SEARCH_DEBOUNCE_MS = 300;
/** Results whose config.json is read for the memory estimate. */
const SPECS_READ = 8;

export type ListingState<R> =
  | { status: 'idle' }
  | { status: 'searching' }
  | { status: 'done'; result: R }
  | { status: 'offline'; message: string }
  | { status: 'error'; error: ErrorInfo };

export type HubSearchState =
  | Exclude<ListingState<SearchResult>, { status: 'done' }>
  | { status: 'done'; result: SearchResult; specs: Record<string, ModelSpec | ErrorInfo> };

export interface HubAccess {
  hubUrl: string;
  /** The token when the Hub may receive it (mayReceiveToken), else null. */
  token: string | null;
  trusted: readonly string[];
}

/** A query worth searching: two characters or more, no revision part ("id@rev" is typed to load). */
export function searchQuery(text: string): string | null {
  const q = text.trim();
  return q.length >= 2 && !q.includes('@') ? q : null;
}

/**
 * A debounced, abortable Hub search of `text`. `search` runs with the access of the moment it
 * starts (a new token does not search again); `then` may go on with the result (more requests
 * under the same abort) and publish updated results.
 */
export function useHubListing<R>(
  text: string,
  access: HubAccess,
  search: (query: string, o: SearchOptions) => Promise<R>,
  then?: (result: R, o: SearchOptions, publish: (r: R) => void) => void,
): ListingState<R> {
  const [state, setState] = useState<ListingState<R>>({ status: 'idle' });
  const ref = useRef({ access, search, then });
  ref.current = { access, search, then };
  const query = searchQuery(text);
  const hubUrl = access.hubUrl;

  useEffect(() => {
    if (query === null) {
      setState({ status: 'idle' });
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      setState({ status: 'searching' });
      const { access: a, search: run, then: next } = ref.current;
      const o: SearchOptions = { hubUrl, token: a.token, trusted: a.trusted, signal: abort.signal };
      const publish = (result: R) => {
        if (!abort.signal.aborted) setState({ status: 'done', result });
      };
      run(query, o).then(
        (result) => {
          publish(result);
          if (!abort.signal.aborted) next?.(result, o, publish);
        },
        (e: unknown) => {
          if (abort.signal.aborted) return;
          setState(e instanceof HubUnreachableError ? { status: 'offline', message: e.message } : { status: 'error', error: toErrorInfo(e) });
        },
      );
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [query, hubUrl]);

  return state;
}

type ModelListing = { result: SearchResult; specs: Record<string, ModelSpec | ErrorInfo> };

const searchModels = async (q: string, o: SearchOptions): Promise<ModelListing> => ({ result: await searchHub(q, SUPPORTED_ARCHITECTURES, o), specs: {} });

/** The first results' config.json, read one by one (each published as it comes). */
function readSpecs(listing: ModelListing, o: SearchOptions, publish: (r: ModelListing) => void): void {
  const specs: Record<string, ModelSpec | ErrorInfo> = {};
  for (const hit of listing.result.hits.slice(0, SPECS_READ)) {
    if (hit.gated && !o.token) continue;
    fetchModelSpec(hit.id, o)
      .then(
        (spec) => {
          specs[hit.id] = spec;
        },
        (e: unknown) => {
          specs[hit.id] = toErrorInfo(e);
        },
      )
      .finally(() => publish({ result: listing.result, specs: { ...specs } }));
  }
}

/** The model field's search. */
export function useHubSearch(text: string, access: HubAccess): HubSearchState {
  const state = useHubListing(text, access, searchModels, readSpecs);
  return state.status === 'done' ? { status: 'done', result: state.result.result, specs: state.result.specs } : state;
}

/** The dataset id field's search. */
export function useHubDatasetSearch(text: string, access: HubAccess): ListingState<HubDatasetHit[]> {
  return useHubListing(text, access, searchHubDatasets);
}
