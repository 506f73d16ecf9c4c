// Downloads from the Hugging Face Hub (or a stand-in with the same URL layout):
//   {baseUrl}/{model id}/resolve/{revision}/{file}
//
// - Small files (config.json, tokenizer files, the shard index) are fetched whole: `text()`.
// - Weights files are read through a HubFileReader: a ByteSource that serves reads in increasing
//   offsets from ONE streamed response (HTTP Range from where the stream must start), so the
//   importer quantizes tensor by tensor while the bytes arrive and never holds a whole file. Reads
//   that go backwards (a safetensors header re-read when resuming) are one-off Range requests.
// - Progress: every received chunk is counted (per file, overall, and a speed over the last few
//   seconds) through DownloadTracker.
// - Cancellable: every request takes the caller's AbortSignal.
// - Resumable: the importer saves `checkpoint()` (stream offset + SHA-256 state) with its progress;
//   `open(file, checkpoint)` continues with a Range request from that offset.
// - Verified: the size against the Hub's (X-Linked-Size / Content-Length / Content-Range), and the
//   SHA-256 when the Hub gives one for an LFS file (X-Linked-Etag, or an ETag that is 64 hex digits),
//   over the whole stream (incremental, since crypto.subtle cannot hash a stream), and with
//   crypto.subtle for whole small files.
// - The access token lives in a private field: never stored, logged or put in a message, and is
//   attached only where mayReceiveToken (./endpoint) allows: the client's own origin (or the
//   origins the caller names), over https or to loopback.
// - Errors: HubAuthError (401/403), HubNotFoundError (404), HubNetworkError (connection lost or
//   server unreachable), HubCorsError (the browser blocked the request), HubIntegrityError (size or
//   hash mismatch, truncated body), HubHttpError (any other status), HubQuotaError (storage).

import type { ByteSource } from '../io/safetensors';
import { failWith } from '../io/untrusted/errors';
import { checkFileSize, maxTextFileBytes } from '../io/untrusted/json';
import { HUB_URL, mayReceiveToken } from './endpoint';
import { Sha256, sha256Hex, type Sha256State } from './sha256';

export { HUB_URL };

export class HubError extends Error {
  override name = 'HubError';
}
/** What a Hub repository holds: models live at /{id}, datasets at /datasets/{id}. */
export type HubRepoType = 'model' | 'dataset';

/** 401/403: the model (or dataset) is gated or private. */
export class HubAuthError extends HubError {
  override name = 'HubAuthError';
  constructor(
    readonly modelId: string,
    readonly status: number,
    readonly hadToken: boolean,
    readonly repoType: HubRepoType = 'model',
  ) {
    super(
      hadToken
        ? `Access to ${modelId} was refused (HTTP ${status}). The ${repoType} is gated or private: accept its license on its Hugging Face page with the account your token belongs to, and check that the token has read access.`
        : `Access to ${modelId} was refused (HTTP ${status}). The ${repoType} is gated or private: accept its license on its Hugging Face page, then give an access token (Settings → Access Tokens on huggingface.co).`,
    );
  }
}
/** 404: no such model (or dataset), revision or file. */
export class HubNotFoundError extends HubError {
  override name = 'HubNotFoundError';
  constructor(
    readonly modelId: string,
    readonly revision: string,
    readonly file: string,
    readonly repoType: HubRepoType = 'model',
  ) {
    super(`${file} was not found in ${repoType} ${modelId} (revision ${revision}). Check the ${repoType} id and revision; the ${repoType} may not have this file.`);
  }
}
/** The connection failed or dropped. */
export class HubNetworkError extends HubError {
  override name = 'HubNetworkError';
}
/** fetch failed with a TypeError in a browser while online: the request was blocked (CORS) or never left. */
export class HubCorsError extends HubError {
  override name = 'HubCorsError';
}
/** Size or SHA-256 does not match what the Hub announced, or the body ended early. */
export class HubIntegrityError extends HubError {
  override name = 'HubIntegrityError';
}
/** Any other HTTP status. */
export class HubHttpError extends HubError {
  override name = 'HubHttpError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
/** Not enough storage for the download. */
export class HubQuotaError extends HubError {
  override name = 'HubQuotaError';
  constructor(
    readonly needed: number,
    readonly available: number,
  ) {
    super(`Not enough browser storage: this model needs about ${formatBytes(needed)} but only ${formatBytes(available)} is available. Delete models from the library or free disk space.`);
  }
}
/** The caller aborted (name 'AbortError', as fetch's own). */
export class HubAbortError extends HubError {
  override name = 'AbortError';
  constructor() {
    super('download cancelled');
  }
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export interface HubClientOptions {
  /** Default https://huggingface.co; tests and the e2e stand-in use a local server. */
  baseUrl?: string;
  /** Access token for gated/private models, kept in memory only. */
  token?: string | null;
  /** Origins the token may go to (default: baseUrl's origin); see mayReceiveToken. */
  tokenOrigins?: readonly string[];
  /** Injected for tests; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** 'dataset': files are under /datasets/{id}/resolve/…, and errors name a dataset. Default 'model'. */
  repoType?: HubRepoType;
}

/** What the Hub says about a file before downloading it. */
export interface HubFileInfo {
  file: string;
  size: number;
  /** Lower-case hex SHA-256 for LFS files when the Hub announces it, else null. */
  sha256: string | null;
  /** Where the file is read when it is not at the resolve URL (a dataset's Parquet-conversion listing URL). */
  url?: string;
}

/** Where a weights stream stopped: saved by the importer, given back to resume. */
export interface StreamCheckpoint {
  offset: number;
  /** SHA-256 of bytes [0, offset) so far, when the stream has hashed from byte 0. */
  hash: Sha256State | null;
}

const isBrowserLike = (): boolean =>
  typeof (globalThis as { document?: unknown }).document !== 'undefined' ||
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

function sha256FromHeaders(h: Headers): string | null {
  const raw = h.get('x-linked-etag') ?? h.get('etag');
  if (!raw) return null;
  const v = raw.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) ? v : null;
}

/** Total size from Content-Range ("bytes a-b/total"), X-Linked-Size, or Content-Length of a 200. */
function sizeFromHeaders(res: Response): number | null {
  const cr = res.headers.get('content-range');
  const m = cr ? /\/(\d+)\s*$/.exec(cr) : null;
  if (m) return Number(m[1]);
  const linked = res.headers.get('x-linked-size');
  if (linked && /^\d+$/.test(linked)) return Number(linked);
  if (res.status === 200 && !res.headers.get('content-encoding')) {
    const cl = res.headers.get('content-length');
    if (cl && /^\d+$/.test(cl)) return Number(cl);
  }
  return null;
}

export class HubClient {
  readonly baseUrl: string;
  #token: string | null;
  #tokenOrigins: readonly string[];
  #fetch: typeof fetch;
  readonly repoType: HubRepoType;

  constructor(options: HubClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? HUB_URL).replace(/\/+$/, '');
    this.repoType = options.repoType ?? 'model';
    this.#token = options.token ? options.token.trim() || null : null;
    this.#tokenOrigins = options.tokenOrigins ?? [new URL(this.baseUrl).origin];
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Whether requests to this client's Hub carry a token. */
  get hasToken(): boolean {
    return this.#token !== null && mayReceiveToken(this.baseUrl, this.#tokenOrigins);
  }

  /** Replaces (or clears) the in-memory token. */
  setToken(token: string | null): void {
    this.#token = token ? token.trim() || null : null;
  }

  url(modelId: string, revision: string, file: string): string {
    const path = file.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl}/${this.repoType === 'dataset' ? 'datasets/' : ''}${modelId}/resolve/${encodeURIComponent(revision)}/${path}`;
  }

  /**
   * One request, with the token and error mapping. `range`: [start] or [start, endInclusive].
   * Resolves with a 2xx response; 404 → HubNotFoundError when `missingOk` is false. `url`: read the
   * file there instead of its resolve URL (the same token rule applies).
   */
  async request(
    modelId: string,
    revision: string,
    file: string,
    init: { method?: 'GET' | 'HEAD'; range?: [number, number?]; signal?: AbortSignal; missingOk?: boolean; url?: string } = {},
  ): Promise<Response | null> {
    const url = init.url ?? this.url(modelId, revision, file);
    const headers: Record<string, string> = {};
    // Set once, here; redirects are followed by fetch, which drops it on a cross-origin hop.
    const sendToken = this.#token !== null && mayReceiveToken(url, this.#tokenOrigins);
    if (sendToken) headers.Authorization = `Bearer ${this.#token}`;
    if (init.range) headers.Range = `bytes=${init.range[0]}-${init.range[1] ?? ''}`;
    let res: Response;
    try {
      res = await this.#fetch(url, { method: init.method ?? 'GET', headers, signal: init.signal, cache: 'no-store' });
    } catch (e) {
      throw mapFetchError(e, init.signal, `${file} of ${modelId}`);
    }
    if (res.status === 401 || res.status === 403) {
      void res.body?.cancel().catch(() => {});
      throw new HubAuthError(modelId, res.status, sendToken, this.repoType);
    }
    if (res.status === 404) {
      void res.body?.cancel().catch(() => {});
      if (init.missingOk) return null;
      throw new HubNotFoundError(modelId, revision, file, this.repoType);
    }
    if (res.status === 416) {
      void res.body?.cancel().catch(() => {});
      throw new HubIntegrityError(`${file} of ${modelId}: the server refused the byte range (the file may have changed on the Hub)`);
    }
    if (!res.ok) {
      void res.body?.cancel().catch(() => {});
      throw new HubHttpError(`${file} of ${modelId}: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, res.status);
    }
    return res;
  }

  /** Size and SHA-256 of a file (a HEAD request), or null when the file does not exist. */
  async stat(modelId: string, revision: string, file: string, signal?: AbortSignal, url?: string): Promise<HubFileInfo | null> {
    const res = await this.request(modelId, revision, file, { method: 'HEAD', signal, missingOk: true, url });
    if (!res) return null;
    let size = sizeFromHeaders(res);
    if (size === null) {
      // No usable length on HEAD (compressed small file): ask for the first byte.
      const r = await this.request(modelId, revision, file, { range: [0, 0], signal, url });
      void r!.body?.cancel().catch(() => {});
      size = r!.status === 206 ? sizeFromHeaders(r!) : null;
    }
    return { file, size: size ?? -1, sha256: sha256FromHeaders(res.headers), ...(url ? { url } : {}) };
  }

  /** A whole small file as bytes, verified against Content-Length and the announced SHA-256. */
  /** A whole file; past `maxBytes` (declared or received) refused with UntrustedFileError before more is read. */
  async bytes(modelId: string, revision: string, file: string, signal?: AbortSignal, onBytes?: (n: number) => void, maxBytes = Infinity): Promise<Uint8Array> {
    const res = (await this.request(modelId, revision, file, { signal }))!;
    const expected = res.headers.get('content-encoding') ? null : sizeFromHeaders(res);
    const tooLarge = failWith(`${modelId}/${file}`);
    if (expected !== null) checkFileSize(expected, maxBytes, tooLarge);
    const sha = sha256FromHeaders(res.headers);
    const parts: Uint8Array[] = [];
    let n = 0;
    const reader = res.body!.getReader();
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw mapStreamError(e, signal, `${file} of ${modelId}`, n, expected);
      }
      if (r.done) break;
      parts.push(r.value);
      n += r.value.byteLength;
      if (n > maxBytes) {
        void reader.cancel().catch(() => undefined);
        checkFileSize(n, maxBytes, tooLarge);
      }
      onBytes?.(r.value.byteLength);
    }
    if (expected !== null && n !== expected) {
      throw new HubIntegrityError(`${file} of ${modelId}: received ${n} bytes, expected ${expected} (truncated download)`);
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    if (sha) {
      const got = await sha256Hex(out);
      if (got !== sha) throw new HubIntegrityError(`${file} of ${modelId}: SHA-256 mismatch (got ${got}, the Hub says ${sha})`);
    }
    return out;
  }

  /** A model folder's text file, within its untrusted size cap (maxTextFileBytes). */
  async text(modelId: string, revision: string, file: string, signal?: AbortSignal): Promise<string> {
    return new TextDecoder().decode(await this.bytes(modelId, revision, file, signal, undefined, maxTextFileBytes(file)));
  }

  /** A streaming reader over a weights file (see HubFileReader). */
  open(
    modelId: string,
    revision: string,
    info: HubFileInfo,
    options: { signal?: AbortSignal; onBytes?: (n: number) => void; resume?: StreamCheckpoint | null } = {},
  ): HubFileReader {
    return new HubFileReader(this, modelId, revision, info, options);
  }
}

function mapFetchError(e: unknown, signal: AbortSignal | undefined, what: string): Error {
  if (signal?.aborted || (e as Error)?.name === 'AbortError') return new HubAbortError();
  if (e instanceof HubError) return e;
  const offline = typeof navigator !== 'undefined' && (navigator as { onLine?: boolean }).onLine === false;
  if (offline) return new HubNetworkError(`Could not download ${what}: this device is offline. Reconnect and try again; the download resumes where it stopped.`);
  if (e instanceof TypeError && isBrowserLike()) {
    return new HubCorsError(
      `Could not download ${what}: the browser blocked the request (CORS) or the server could not be reached. Check the Hub URL and your connection; a proxy or extension may be blocking huggingface.co.`,
    );
  }
  return new HubNetworkError(`Could not download ${what}: the server could not be reached (${(e as Error)?.message ?? String(e)}).`);
}

function mapStreamError(e: unknown, signal: AbortSignal | undefined, what: string, got: number, total: number | null): Error {
  if (signal?.aborted || (e as Error)?.name === 'AbortError') return new HubAbortError();
  if (e instanceof HubError) return e;
  return new HubNetworkError(
    `The connection was lost while downloading ${what} (after ${formatBytes(got)}${total !== null ? ` of ${formatBytes(total)}` : ''}). Try again: the download resumes where it stopped.`,
  );
}

/**
 * A ByteSource over a Hub file, served from one sequential stream. Reads at or after the stream
 * position continue the stream (skipping and hashing any gap); reads before it are one-off Range
 * requests that are not hashed. The stream starts at 0, or at a resume checkpoint.
 */
export class HubFileReader implements ByteSource {
  readonly name: string;
  readonly size: number;
  private pos: number;
  private hash: Sha256 | null;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private pending: Uint8Array | null = null;
  private readonly signal?: AbortSignal;
  private readonly onBytes?: (n: number) => void;

  constructor(
    private readonly client: HubClient,
    private readonly modelId: string,
    private readonly revision: string,
    readonly info: HubFileInfo,
    options: { signal?: AbortSignal; onBytes?: (n: number) => void; resume?: StreamCheckpoint | null },
  ) {
    this.name = `${modelId}/${info.file}`;
    this.size = info.size;
    this.signal = options.signal;
    this.onBytes = options.onBytes;
    const resume = options.resume;
    if (resume && resume.offset > 0) {
      this.pos = resume.offset;
      this.hash = resume.hash && resume.hash.length === resume.offset ? Sha256.from(resume.hash) : null;
    } else {
      this.pos = 0;
      this.hash = info.sha256 ? new Sha256() : null;
    }
  }

  /** The stream position and the hash state there (save it with the data consumed so far). */
  checkpoint(): StreamCheckpoint {
    return { offset: this.pos, hash: this.hash ? this.hash.state() : null };
  }

  /** Whether the whole file will have been hashed when the stream reaches its end. */
  get verifiable(): boolean {
    return this.hash !== null;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`${this.name}: read of ${length} bytes at ${offset} is outside the file (${this.size} bytes)`);
    }
    if (length === 0) return new Uint8Array(0);
    if (offset < this.pos) return this.readOnce(offset, length);
    if (offset > this.pos) await this.take(offset - this.pos, null);
    const out = new Uint8Array(length);
    await this.take(length, out);
    return out;
  }

  /** Reads to the end of the file (hashing) and checks the SHA-256. Throws HubIntegrityError. */
  async finish(): Promise<void> {
    if (this.pos < this.size) await this.take(this.size - this.pos, null);
    await this.close();
    if (this.hash && this.info.sha256) {
      const got = this.hash.hex();
      this.hash = null;
      if (got !== this.info.sha256) {
        throw new HubIntegrityError(`${this.name}: SHA-256 mismatch after download (got ${got}, the Hub says ${this.info.sha256}); the file is corrupt, download it again`);
      }
    }
  }

  async close(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    this.pending = null;
    if (r) await r.cancel().catch(() => {});
  }

  private async readOnce(offset: number, length: number): Promise<Uint8Array> {
    const res = (await this.client.request(this.modelId, this.revision, this.info.file, { range: [offset, offset + length - 1], signal: this.signal, url: this.info.url }))!;
    let buf: ArrayBuffer;
    try {
      buf = await res.arrayBuffer();
    } catch (e) {
      throw mapStreamError(e, this.signal, this.name, 0, length);
    }
    let bytes = new Uint8Array(buf);
    if (res.status === 200) bytes = bytes.subarray(offset, offset + length); // server ignored Range
    if (bytes.byteLength !== length) throw new HubIntegrityError(`${this.name}: asked for ${length} bytes at ${offset}, received ${bytes.byteLength}`);
    return bytes;
  }

  private async openStream(): Promise<void> {
    const start = this.pos;
    const res = (await this.client.request(this.modelId, this.revision, this.info.file, { range: start > 0 ? [start] : undefined, signal: this.signal, url: this.info.url }))!;
    const total = sizeFromHeaders(res);
    if (total !== null && total !== this.size) {
      void res.body?.cancel().catch(() => {});
      throw new HubIntegrityError(`${this.name}: the server now reports ${total} bytes instead of ${this.size}; the file changed on the Hub, start the download again`);
    }
    this.reader = res.body!.getReader();
    this.pending = null;
    if (start > 0 && res.status === 200) {
      // The server ignored the Range header: drop the bytes we already have, unhashed.
      let skip = start;
      while (skip > 0) {
        const chunk = await this.nextChunk();
        if (chunk.byteLength > skip) {
          this.pending = chunk.subarray(skip);
          skip = 0;
        } else skip -= chunk.byteLength;
      }
    } else if (start > 0) {
      const cr = res.headers.get('content-range');
      const m = cr ? /bytes\s+(\d+)-/.exec(cr) : null;
      if (m && Number(m[1]) !== start) {
        await this.close();
        throw new HubIntegrityError(`${this.name}: asked for bytes from ${start}, the server sent from ${m[1]}`);
      }
    }
  }

  private async nextChunk(): Promise<Uint8Array> {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await this.reader!.read();
    } catch (e) {
      this.reader = null;
      throw mapStreamError(e, this.signal, this.name, this.pos, this.size);
    }
    if (r.done) {
      this.reader = null;
      throw new HubNetworkError(
        `The download of ${this.name} ended early, at ${formatBytes(this.pos)} of ${formatBytes(this.size)} (connection lost or truncated by the server). Try again: it resumes where it stopped.`,
      );
    }
    this.onBytes?.(r.value.byteLength);
    return r.value;
  }

  /** Consumes n bytes from the stream into `out` (or discards them), hashing them. */
  private async take(n: number, out: Uint8Array | null): Promise<void> {
    if (this.signal?.aborted) throw new HubAbortError();
    let done = 0;
    while (done < n) {
      if (!this.pending || this.pending.byteLength === 0) {
        if (!this.reader) await this.openStream();
        if (!this.pending || this.pending.byteLength === 0) this.pending = await this.nextChunk();
      }
      const chunk = this.pending!;
      const k = Math.min(chunk.byteLength, n - done);
      const piece = chunk.subarray(0, k);
      if (out) out.set(piece, done);
      this.hash?.update(piece);
      this.pending = chunk.subarray(k);
      done += k;
      this.pos += k;
    }
  }
}

export interface DownloadProgress {
  /** The file receiving bytes. */
  file: string;
  fileDone: number;
  fileTotal: number;
  /** Over all files of the download (bytes already stored before a resume count as done). */
  done: number;
  total: number;
  /** Bytes per second over the last few seconds. */
  bytesPerSec: number;
}

/** Counts received bytes per file and overall, with a sliding-window speed. */
export class DownloadTracker {
  private fileDone = new Map<string, number>();
  private done = 0;
  private window: Array<[number, number]> = [];

  constructor(
    private readonly sizes: Map<string, number>,
    private readonly onProgress?: (p: DownloadProgress) => void,
    private readonly now: () => number = () => (typeof performance !== 'undefined' ? performance.now() : Date.now()),
    private readonly windowMs = 3000,
  ) {}

  get total(): number {
    let t = 0;
    for (const s of this.sizes.values()) t += Math.max(0, s);
    return t;
  }

  /** Marks bytes as already there (resume): they count as done but not in the speed. */
  skip(file: string, bytes: number): void {
    this.fileDone.set(file, (this.fileDone.get(file) ?? 0) + bytes);
    this.done += bytes;
  }

  add(file: string, bytes: number): void {
    const t = this.now();
    this.fileDone.set(file, (this.fileDone.get(file) ?? 0) + bytes);
    this.done += bytes;
    this.window.push([t, bytes]);
    while (this.window.length > 1 && t - this.window[0][0] > this.windowMs) this.window.shift();
    this.onProgress?.(this.progress(file));
  }

  speed(): number {
    if (this.window.length === 0) return 0;
    const t = this.now();
    const span = Math.max(t - this.window[0][0], 250);
    let bytes = 0;
    for (const [, b] of this.window) bytes += b;
    return (bytes * 1000) / span;
  }

  progress(file: string): DownloadProgress {
    return {
      file,
      fileDone: this.fileDone.get(file) ?? 0,
      fileTotal: this.sizes.get(file) ?? 0,
      done: this.done,
      total: this.total,
      bytesPerSec: this.speed(),
    };
  }
}

/** The subset of navigator.storage used here (injectable for tests). */
export interface StorageLike {
  estimate(): Promise<{ usage?: number; quota?: number }>;
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

export interface QuotaReport {
  usage: number;
  quota: number;
  available: number;
  persisted: boolean | null;
}

/**
 * Checks that `needed` bytes fit the origin's storage quota before a download starts, and asks for
 * persistent storage (so the browser does not evict the model under pressure). Throws HubQuotaError.
 * Without navigator.storage (Node), reports Infinity and checks nothing.
 */
export async function checkStorageQuota(needed: number, storage: StorageLike | null | undefined = defaultStorage()): Promise<QuotaReport> {
  if (!storage) return { usage: 0, quota: Infinity, available: Infinity, persisted: null };
  const est = await storage.estimate();
  const usage = est.usage ?? 0;
  const quota = est.quota ?? Infinity;
  const available = Math.max(0, quota - usage);
  if (needed > available) throw new HubQuotaError(needed, available);
  let persisted: boolean | null = null;
  try {
    persisted = (await storage.persisted?.()) ?? null;
    if (!persisted && storage.persist) persisted = await storage.persist();
  } catch {
    persisted = null;
  }
  return { usage, quota, available, persisted };
}

function defaultStorage(): StorageLike | null {
  const nav = (globalThis as { navigator?: { storage?: StorageLike } }).navigator;
  return nav?.storage && typeof nav.storage.estimate === 'function' ? nav.storage : null;
}
