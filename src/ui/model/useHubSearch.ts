// The model field's Hub search: waits until typing pauses, aborts the previous search (and its
// config.json reads) when the text changes, and reads the config.json of the first results the
// user may read (not gated, or a token the Hub may receive) so the page can estimate their memory.
import { useEffect, useRef, useState } from 'react';
import { SUPPORTED_ARCHITECTURES } from '../../engine/model/config';
import type { ModelSpec } from '../../engine/model/spec';
import { HubUnreachableError, fetchModelSpec, searchHub, type SearchResult } from '../../hub/search';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';

/** Milliseconds of quiet typing before a search starts. */
export const SEARCH_DEBOUNCE_MS = 300;
/** Results whose config.json is read for the memory estimate. */
const SPECS_READ = 8;

export type HubSearchState =
  | { status: 'idle' }
  | { status: 'searching' }
  | { status: 'done'; result: SearchResult; specs: Record<string, ModelSpec | ErrorInfo> }
  | { status: 'offline'; message: string }
  | { status: 'error'; error: ErrorInfo };

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

export function useHubSearch(text: string, access: HubAccess): HubSearchState {
  const [state, setState] = useState<HubSearchState>({ status: 'idle' });
  // The token and trusted hosts at the moment a search starts; a new token does not search again.
  const accessRef = useRef(access);
  accessRef.current = access;
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
      const { token, trusted } = accessRef.current;
      const o = { hubUrl, token, trusted, signal: abort.signal };
      searchHub(query, SUPPORTED_ARCHITECTURES, o).then(
        (result) => {
          if (abort.signal.aborted) return;
          const specs: Record<string, ModelSpec | ErrorInfo> = {};
          setState({ status: 'done', result, specs: { ...specs } });
          for (const hit of result.hits.slice(0, SPECS_READ)) {
            if (hit.gated && !token) continue;
            fetchModelSpec(hit.id, o).then(
              (spec) => {
                specs[hit.id] = spec;
              },
              (e: unknown) => {
                specs[hit.id] = toErrorInfo(e);
              },
            ).finally(() => {
              if (!abort.signal.aborted) setState({ status: 'done', result, specs: { ...specs } });
            });
          }
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
