// Upload progress for @huggingface/hub's PUT/POST requests in a browser: fetch reports no upload
// progress, so a request the library marks with `progressHint` goes through XMLHttpRequest, whose
// upload events feed the hint's callback (as the library's own uploadFilesWithProgress does; that
// helper cannot take our fetch, which applies the token rule). A network failure rejects with a
// TypeError, as fetch does, so callers name it the same way.

interface ProgressHint {
  progressCallback: (progress: number) => void;
  /** Multipart uploads: this part's index and the number of parts of the file. */
  part?: number;
  numParts?: number;
}

/** Per file (its callback), each part's fraction, so a multipart file reports one progress. */
const partsDone = new WeakMap<(p: number) => void, number[]>();

export function progressHintOf(init: RequestInit | undefined): ProgressHint | null {
  const hint = (init as { progressHint?: ProgressHint } | undefined)?.progressHint;
  return hint && typeof hint.progressCallback === 'function' ? hint : null;
}

/** Whether this request can go through XMLHttpRequest with progress. */
export function canSendWithProgress(input: RequestInfo | URL, init: RequestInit | undefined): boolean {
  const body = init?.body;
  return (
    typeof XMLHttpRequest !== 'undefined' &&
    progressHintOf(init) !== null &&
    (init?.method === 'PUT' || init?.method === 'POST') &&
    (typeof input === 'string' || input instanceof URL) &&
    (body instanceof Blob || body instanceof ArrayBuffer || typeof body === 'string')
  );
}

function report(hint: ProgressHint, fraction: number): void {
  // Never 1 before the answer arrives: the library reports 1 itself once the request succeeded.
  const f = Math.min(fraction, 0.999);
  if (hint.part === undefined || !hint.numParts) return hint.progressCallback(f);
  const parts = partsDone.get(hint.progressCallback) ?? new Array<number>(hint.numParts).fill(0);
  partsDone.set(hint.progressCallback, parts);
  parts[hint.part] = f;
  hint.progressCallback(parts.reduce((a, b) => a + b, 0) / hint.numParts);
}

export function sendWithProgress(input: string | URL, init: RequestInit): Promise<Response> {
  const hint = progressHintOf(init)!;
  return new Promise<Response>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init.method!, String(input), true);
    xhr.responseType = 'arraybuffer';
    new Headers(init.headers).forEach((value, key) => xhr.setRequestHeader(key, value));
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) report(hint, e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const at = line.indexOf(':');
        if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      }
      const empty = xhr.status === 204 || xhr.status === 205 || xhr.status === 304;
      resolve(new Response(empty ? null : (xhr.response as ArrayBuffer), { status: xhr.status, statusText: xhr.statusText, headers }));
    });
    xhr.addEventListener('error', () => reject(new TypeError(`network error (${init.method} ${new URL(String(input)).host})`)));
    xhr.addEventListener('abort', () => reject(init.signal?.reason ?? new DOMException('Aborted', 'AbortError')));
    if (init.signal?.aborted) {
      reject(init.signal.reason ?? new DOMException('Aborted', 'AbortError'));
      return;
    }
    init.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(init.body as XMLHttpRequestBodyInit);
  });
}
