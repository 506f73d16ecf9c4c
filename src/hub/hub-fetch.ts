// The fetch that @huggingface/hub's calls (model search, whoami, repo create, commit) go through:
// endpoint.ts's one token rule applied to every request the library makes, and the caller's
// AbortSignal added to calls the library does not give one (listModels takes none), and upload
// progress for its PUT/POST bodies in a browser (xhr-upload.ts).
import { mayReceiveToken } from './endpoint';
import { canSendWithProgress, sendWithProgress } from './xhr-upload';

/** A request would have carried the access token to a host not trusted with it. */
export class HubTokenRefusedError extends Error {
  override name = 'HubTokenRefusedError';
}

/**
 * A fetch for `@huggingface/hub`'s `fetch` parameter. A request that carries `Bearer <token>` to a
 * URL `mayReceiveToken` refuses is not sent (the library may hand other credentials to other hosts,
 * e.g. its storage's own short-lived tokens: those pass).
 */
export function guardedFetch(token: string | null, trusted: readonly string[], signal?: AbortSignal): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token && headers.get('authorization') === `Bearer ${token}` && !mayReceiveToken(url, trusted)) {
      const host = /^\w+:\/\/([^/]+)/.exec(url)?.[1] ?? url;
      return Promise.reject(new HubTokenRefusedError(`The access token was not sent to ${host}: it goes only to the Hub it is meant for.`));
    }
    const sent = signal && !init?.signal ? { ...init, signal } : init;
    // Uploads the library marks with a progress hint go through XMLHttpRequest in a browser (fetch has no upload progress).
    if (canSendWithProgress(input, sent)) return sendWithProgress(input as string | URL, sent!);
    return fetch(input, sent);
  };
}
