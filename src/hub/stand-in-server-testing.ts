// A local stand-in for the Hugging Face Hub (Node only: node:http): serves model folders at
//   /{model id}/resolve/{revision}/{file}
// with what the importer relies on: HEAD, Range requests (206 + Content-Range, 416), ETag and
// X-Linked-Etag / X-Linked-Size with the SHA-256 of .safetensors files (as the Hub does for LFS),
// 401/403 for gated models, 404 for the rest, and CORS headers so a page on another port can fetch.
// Used by the download/import tests, `cli bench-import`, and the e2e specs (which start it from the
// Playwright process). Test hooks: request log, a one-off dropped connection, throttling.
// The Hub API calls of model search and push (/api/…, LFS) are answered by stand-in-api-testing.ts; the
// public repositories pushed there are served here too (a private one answers 401, as unknown).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createStandInApi, type StandInApi, type StandInApiOptions } from './stand-in-api-testing';
import { createStandInDatasets, type StandInDataset, type StandInDatasets } from './stand-in-datasets-testing';

export interface StandInModel {
  files: Map<string, Uint8Array | string>;
  /** When set, requests must carry `Authorization: Bearer <token>` (401 without, 403 wrong). */
  token?: string;
  /** Revisions served (default ['main']). */
  revisions?: string[];
  /**
   * Base URL of another server (a CDN stand-in serving the same files): requests for .safetensors
   * files that pass the token check answer 302 to the same path there, as the Hub sends LFS files
   * to its CDN.
   */
  lfsRedirect?: string;
}

export interface LoggedRequest {
  method: string;
  model: string;
  file: string;
  range: string | null;
  /** Whether an Authorization header was present (its value is never logged). */
  auth: boolean;
  status: number;
}

export interface StandInOptions {
  models: Record<string, StandInModel>;
  port?: number;
  /** Bytes per second per response (0 = unthrottled). */
  throttle?: number;
  /** Model search, users and repositories of the Hub API (search and push). */
  api?: StandInApiOptions;
  /** Datasets: search, info, the Parquet conversion and files (stand-in-datasets-testing.ts). */
  datasets?: Record<string, StandInDataset>;
}

export interface StandInHub {
  url: string;
  port: number;
  log: LoggedRequest[];
  /** The Hub API's state and hooks (search, whoami, repo create, preupload, LFS, commit). */
  api: StandInApi;
  /** The datasets' hooks. */
  datasets: Pick<StandInDatasets, 'corrupt'>;
  /** The next GET of `file` (any model) longer than `afterBytes` sends that many body bytes, then drops the connection. */
  dropOnce(file: string, afterBytes: number): void;
  /** Replaces a served file's bytes (e.g. to corrupt it) keeping its announced hash (when keepHash). */
  corrupt(model: string, file: string, keepHash: boolean): void;
  setThrottle(bytesPerSec: number): void;
  close(): Promise<void>;
}

export interface Entry {
  bytes: Uint8Array;
  sha256: string;
  gitSha: string;
}

/** Answers a request for a stored file (HEAD, Range); `lfs`: announce its SHA-256 as the Hub does for LFS files. */
export type ServeEntry = (req: IncomingMessage, res: ServerResponse, entry: Entry, lfs: boolean, record: (status: number) => void) => void;

export const toBytes = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? new TextEncoder().encode(v) : v);
export const entryOf = (bytes: Uint8Array): Entry => ({
  bytes,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  gitSha: createHash('sha1').update(bytes).digest('hex'),
});

export async function startStandInHub(options: StandInOptions): Promise<StandInHub> {
  const entries = new Map<string, Map<string, Entry>>();
  for (const [id, m] of Object.entries(options.models)) {
    const files = new Map<string, Entry>();
    for (const [name, v] of m.files) files.set(name, entryOf(toBytes(v)));
    entries.set(id, files);
  }
  const log: LoggedRequest[] = [];
  const drops = new Map<string, number>();
  let throttle = options.throttle ?? 0;

  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type, Accept, X-Request-Id',
    'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, OPTIONS',
    'Access-Control-Expose-Headers': 'Content-Range, Content-Length, Accept-Ranges, ETag, X-Linked-Etag, X-Linked-Size, X-Repo-Commit, X-Request-Id, X-Error-Message, Link',
    'Cross-Origin-Resource-Policy': 'cross-origin',
  };

  const api = createStandInApi(options.api ?? {}, cors);
  let base = '';
  // `serve` is defined below; the datasets' files go through it (Range, ETag, drops, throttle).
  const datasets = createStandInDatasets(options.datasets ?? {}, cors, (...a) => serve(...a), (method, model, file, status, auth, range) =>
    log.push({ method, model, file, range, auth, status }),
  );

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    if (datasets.handle(req, res, base)) return;
    if (api.handle(req, res, base)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const record = (status: number, model = '', file = ''): void => {
      log.push({ method, model, file, range: (req.headers.range as string | undefined) ?? null, auth: !!req.headers.authorization, status });
    };
    const fail = (status: number, msg: string, model = '', file = ''): void => {
      record(status, model, file);
      res.writeHead(status, { ...cors, 'Content-Type': 'text/plain', 'X-Error-Message': msg });
      res.end(method === 'HEAD' ? undefined : msg);
    };
    if (!m || (method !== 'GET' && method !== 'HEAD')) return fail(404, 'Not found');
    const id = decodeURIComponent(m[1]);
    const revision = decodeURIComponent(m[2]);
    const file = m[3].split('/').map(decodeURIComponent).join('/');
    const pushed = api.repos.get(id);
    if (pushed && !pushed.private && !options.models[id]) {
      const files = new Map<string, Entry>();
      for (const [name, bytes] of pushed.files) files.set(name, entryOf(bytes));
      entries.set(id, files);
    }
    const model = options.models[id] ?? (pushed && !pushed.private ? { files: new Map() } : undefined);
    if (!model) return fail(401, 'Repository not found', id, file); // the Hub answers 401 for unknown repos without a token
    if (model.token) {
      const auth = req.headers.authorization;
      if (!auth) return fail(401, 'Access to this model is restricted. You must be authenticated.', id, file);
      if (auth !== `Bearer ${model.token}`) return fail(403, 'Access to this model is restricted and you are not in the authorized list.', id, file);
    }
    if (!(model.revisions ?? ['main']).includes(revision)) return fail(404, 'Revision not found', id, file);
    const entry = entries.get(id)!.get(file);
    if (!entry) return fail(404, 'Entry not found', id, file);

    const lfs = file.endsWith('.safetensors');
    if (lfs && model.lfsRedirect) {
      record(302, id, file);
      res.writeHead(302, { ...cors, Location: `${model.lfsRedirect}${url.pathname}` });
      res.end();
      return;
    }
    serve(req, res, entry, lfs, (status) => record(status, id, file));
  };

  /** A file's bytes: HEAD, Range (206, 416), ETag (the LFS SHA-256 or the git blob sha), X-Linked-*, and a planned drop. */
  const serve: ServeEntry = (req, res, entry, lfs, record) => {
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const size = entry.bytes.byteLength;
    const headers: Record<string, string> = {
      ...cors,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      ETag: `"${lfs ? entry.sha256 : entry.gitSha}"`,
      'X-Repo-Commit': '0123456789abcdef0123456789abcdef01234567',
    };
    if (lfs) {
      headers['X-Linked-Etag'] = `"${entry.sha256}"`;
      headers['X-Linked-Size'] = String(size);
    }
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!r || (r[1] === '' && r[2] === '')) {
        record(416);
        res.writeHead(416, { ...cors, 'Content-Type': 'text/plain' });
        res.end();
        return;
      }
      if (r[1] === '') {
        start = Math.max(0, size - Number(r[2]));
      } else {
        start = Number(r[1]);
        if (r[2] !== '') end = Math.min(Number(r[2]), size - 1);
      }
      if (start >= size || start > end) {
        record(416);
        res.writeHead(416, { ...cors, 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = String(end - start + 1);
    record(status);
    res.writeHead(status, headers);
    if (method === 'HEAD') {
      res.end();
      return;
    }
    const body = entry.bytes.subarray(start, end + 1);
    // A planned drop applies to the first response long enough to be cut.
    const key = [...drops.keys()].find((k) => path.endsWith(`/${k}`));
    let drop = key === undefined ? undefined : drops.get(key);
    if (drop !== undefined && body.byteLength > drop) drops.delete(key!);
    else drop = undefined;
    void send(res, body, drop, () => throttle);
  };

  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    port,
    log,
    api,
    datasets,
    dropOnce(file, afterBytes) {
      drops.set(file, afterBytes);
    },
    corrupt(modelId, file, keepHash) {
      const e = entries.get(modelId)?.get(file);
      if (!e) throw new Error(`no ${file} in ${modelId}`);
      const bytes = e.bytes.slice();
      bytes[bytes.length - 1] ^= 0xff;
      e.bytes = bytes;
      if (!keepHash) e.sha256 = createHash('sha256').update(bytes).digest('hex');
    },
    setThrottle(b) {
      throttle = b;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function send(res: ServerResponse, body: Uint8Array, dropAfter: number | undefined, throttle: () => number): Promise<void> {
  const piece = throttle() > 0 ? 64 * 1024 : 1024 * 1024;
  let sent = 0;
  const limit = dropAfter ?? Infinity;
  while (sent < body.byteLength) {
    if (res.destroyed) return;
    const n = Math.min(piece, body.byteLength - sent, limit - sent);
    if (n <= 0) {
      res.destroy(); // connection lost mid-body
      return;
    }
    const ok = res.write(body.subarray(sent, sent + n));
    sent += n;
    const t = throttle();
    if (t > 0) await new Promise((r) => setTimeout(r, (n / t) * 1000));
    else if (!ok) await new Promise((r) => res.once('drain', r));
  }
  if (sent >= limit && limit < Infinity) {
    res.destroy();
    return;
  }
  res.end();
}
