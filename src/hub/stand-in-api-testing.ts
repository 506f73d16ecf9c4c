// The Hub API part of the stand-in Hub (stand-in-server-testing.ts): the calls @huggingface/hub makes to
// search models and to push a repository, answered as huggingface.co answers them:
//   GET  /api/models?search=&limit=&expand=…         model search (JSON array, `expand` fields)
//   GET  /api/whoami-v2                               the token's user (401 for an unknown token)
//   POST /api/repos/create                            {name, organization, visibility} → {url, id}; 409 when it exists
//   POST /api/models/{repo}/preupload/{rev}           which files go to LFS (uploadMode)
//   POST /{repo}.git/info/lfs/objects/batch           basic transfer: an upload action only for objects not stored yet
//   PUT  /lfs-upload/{oid}                            the LFS object (sha256 and size checked)
//   POST /api/models/{repo}/commit/{rev}              ndjson: header, file (base64), lfsFile (oid must be stored)
// Test hooks: a one-off failure or dropped connection on a route, the pushed repositories' files.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';

/** One model the search lists (the fields /api/models returns with expand=config,safetensors). */
export interface ListedModel {
  id: string;
  downloads: number;
  likes?: number;
  gated?: false | 'auto' | 'manual';
  private?: boolean;
  /** config.json's `architectures` and `model_type` as the Hub's `config` field holds them. */
  architectures?: string[];
  modelType?: string;
  /** safetensors.total: parameters. */
  parameters?: number;
}

export interface StandInUser {
  name: string;
  orgs?: string[];
}

export interface StandInApiOptions {
  /** Listed by /api/models. */
  listed?: ListedModel[];
  /** Write tokens → their user. */
  users?: Record<string, StandInUser>;
  /** Repositories that exist already, owned by their namespace: "owner/name". */
  existing?: string[];
}

/** A route of the API, to aim a failure or a drop at. */
export type ApiRoute = 'models' | 'whoami' | 'create' | 'preupload' | 'lfs-batch' | 'lfs-upload' | 'commit';

export interface ApiLogEntry {
  route: ApiRoute;
  path: string;
  auth: boolean;
  status: number;
}

export interface PushedRepo {
  private: boolean;
  files: Map<string, Uint8Array>;
  commits: number;
}

export interface StandInApi {
  /** Handles the request when it is an API call (true), or leaves it to the file server. */
  handle(req: IncomingMessage, res: ServerResponse, base: string): boolean;
  apiLog: ApiLogEntry[];
  repos: Map<string, PushedRepo>;
  /** The next call of `route` answers `status` with `message` (as the Hub's JSON error). */
  failOnce(route: ApiRoute, status: number, message: string): void;
  /**
   * The next `times` calls of `route` drop the connection without answering (after reading the
   * body). Chromium resends a request once, unseen by the page, when a reused connection closes
   * before any answer, so a browser test drops more than once (then calls stopDrops).
   */
  drop(route: ApiRoute, times?: number): void;
  stopDrops(): void;
}

const REPO_NAME = /^(?![.-])(?!.*(--|\.\.))[A-Za-z0-9_.-]{1,96}(?<![.-])$/;

/** Whether the Hub stores this path through LFS (its default .gitattributes, or over 10 MB). */
const isLfs = (path: string, size: number): boolean => /\.(safetensors|bin|onnx|onnx_data|gguf|zip|pt)$/.test(path) || size > 10 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export function createStandInApi(options: StandInApiOptions, cors: Record<string, string>): StandInApi {
  const apiLog: ApiLogEntry[] = [];
  const repos = new Map<string, PushedRepo>();
  for (const id of options.existing ?? []) repos.set(id, { private: false, files: new Map(), commits: 1 });
  const lfs = new Map<string, Uint8Array>();
  const failures = new Map<ApiRoute, { status: number; message: string }>();
  const drops = new Map<ApiRoute, number>();

  const userOf = (req: IncomingMessage): StandInUser | null => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return m ? (options.users?.[m[1]] ?? null) : null;
  };
  const mayWrite = (u: StandInUser, repo: string): boolean => {
    const ns = repo.split('/')[0];
    return ns === u.name || (u.orgs ?? []).includes(ns);
  };

  const route = (method: string, path: string): { route: ApiRoute; repo?: string; oid?: string } | null => {
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/api/models') return { route: 'models' };
    if (method === 'GET' && path === '/api/whoami-v2') return { route: 'whoami' };
    if (method === 'POST' && path === '/api/repos/create') return { route: 'create' };
    if (method === 'POST' && (m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/[^/]+$/.exec(path))) return { route: 'preupload', repo: m[1] };
    if (method === 'POST' && (m = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path))) return { route: 'lfs-batch', repo: m[1] };
    if (method === 'PUT' && (m = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(path))) return { route: 'lfs-upload', oid: m[1] };
    if (method === 'POST' && (m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/[^/]+$/.exec(path))) return { route: 'commit', repo: m[1] };
    return null;
  };

  const handle = (req: IncomingMessage, res: ServerResponse, base: string): boolean => {
    const url = new URL(req.url ?? '/', 'http://x');
    const r = route(req.method ?? 'GET', decodeURIComponent(url.pathname));
    if (!r) return false;
    const entry: ApiLogEntry = { route: r.route, path: url.pathname, auth: !!req.headers.authorization, status: 0 };
    apiLog.push(entry);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      res.writeHead(status, { ...cors, 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, message: string): void => json(status, { error: message }, { 'X-Error-Message': message });
    void (async () => {
      const body = await readBody(req);
      const left = drops.get(r.route) ?? 0;
      if (left > 0) {
        drops.set(r.route, left - 1);
        entry.status = -1;
        res.destroy(); // the connection drops: no answer
        return;
      }
      const failure = failures.get(r.route);
      if (failure) {
        failures.delete(r.route);
        return error(failure.status, failure.message);
      }
      if (r.route === 'models') return json(200, search(options.listed ?? [], url.searchParams));
      if (r.route === 'lfs-upload') {
        const oid = r.oid!;
        if (createHash('sha256').update(body).digest('hex') !== oid) return error(400, 'Uploaded content does not match its oid');
        lfs.set(oid, new Uint8Array(body));
        entry.status = 200;
        res.writeHead(200, { ...cors, ETag: `"${oid}"` });
        res.end();
        return;
      }
      const user = userOf(req);
      if (!user) return error(401, 'Invalid credentials in Authorization header');
      if (r.route === 'whoami') {
        return json(200, {
          type: 'user',
          id: `id-${user.name}`,
          name: user.name,
          fullname: user.name,
          email: null,
          orgs: (user.orgs ?? []).map((o) => ({ type: 'org', name: o, id: `id-${o}`, fullname: o })),
          auth: { type: 'access_token', accessToken: { displayName: 'stand-in', role: 'write', createdAt: new Date(0).toISOString() } },
        });
      }
      if (r.route === 'create') {
        const p = JSON.parse(body.toString()) as { name: string; organization?: string; visibility?: string; type?: string };
        const ns = p.organization ?? user.name;
        const id = `${ns}/${p.name}`;
        if (!mayWrite(user, id)) return error(403, `You don't have the rights to create a model under the namespace "${ns}"`);
        if (!REPO_NAME.test(p.name)) return error(400, `Invalid repo name "${p.name}": use letters, digits, '-', '_' and '.', no '--' or '..', not starting or ending with '-' or '.', at most 96 characters`);
        if (repos.has(id)) return json(409, { error: 'You already created this model repo', url: `${base}/${id}` });
        repos.set(id, { private: p.visibility === 'private', files: new Map(), commits: 0 });
        return json(200, { url: `${base}/${id}`, id: `repo-${id}` });
      }
      const repo = repos.get(r.repo!);
      if (!repo) return error(404, 'Repository not found');
      if (!mayWrite(user, r.repo!)) return error(403, 'You are not authorized to push to this repo.');
      if (r.route === 'preupload') {
        const p = JSON.parse(body.toString()) as { files: { path: string; size: number }[] };
        return json(200, { files: p.files.map((f) => ({ path: f.path, uploadMode: isLfs(f.path, f.size) ? 'lfs' : 'regular', shouldIgnore: false })) });
      }
      if (r.route === 'lfs-batch') {
        const p = JSON.parse(body.toString()) as { objects: { oid: string; size: number }[] };
        return json(200, {
          transfer: 'basic',
          objects: p.objects.map((o) => ({
            oid: o.oid,
            size: o.size,
            authenticated: true,
            ...(lfs.has(o.oid) ? {} : { actions: { upload: { href: `${base}/lfs-upload/${o.oid}`, expires_in: 3600 } } }),
          })),
        }, { 'X-Request-Id': `batch-${apiLog.length}` });
      }
      // commit
      const lines = body.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, string | number> });
      const files = new Map<string, Uint8Array>();
      for (const { key, value } of lines) {
        if (key === 'file') files.set(String(value.path), new Uint8Array(Buffer.from(String(value.content), 'base64')));
        else if (key === 'lfsFile') {
          const bytes = lfs.get(String(value.oid));
          if (!bytes || bytes.byteLength !== value.size) return error(422, `LFS object ${value.oid} for ${value.path} was not uploaded`);
          files.set(String(value.path), bytes);
        } else if (key !== 'header') return error(400, `Unknown commit operation ${key}`);
      }
      for (const [p, b] of files) repo.files.set(p, b);
      repo.commits++;
      const oid = createHash('sha1').update(body).digest('hex');
      return json(200, { commitOid: oid, commitUrl: `${base}/${r.repo}/commit/${oid}`, success: true });
    })().catch((e: unknown) => error(500, String(e)));
    return true;
  };

  return {
    handle,
    apiLog,
    repos,
    failOnce(route, status, message) {
      failures.set(route, { status, message });
    },
    drop(route, times = 1) {
      drops.set(route, times);
    },
    stopDrops() {
      drops.clear();
    },
  };
}

/** /api/models: ids containing `search` (case-insensitive), by downloads, at most `limit`, with the expanded fields. */
function search(listed: ListedModel[], q: URLSearchParams): unknown[] {
  const needle = (q.get('search') ?? '').toLowerCase();
  const limit = Number(q.get('limit') ?? 500);
  const expand = new Set(q.getAll('expand'));
  return listed
    .filter((m) => m.id.toLowerCase().includes(needle))
    .sort((a, b) => b.downloads - a.downloads)
    .slice(0, limit)
    .map((m) => ({
      _id: `id-${m.id}`,
      id: m.id,
      private: m.private ?? false,
      gated: m.gated ?? false,
      downloads: m.downloads,
      likes: m.likes ?? 0,
      lastModified: '2026-01-01T00:00:00.000Z',
      pipeline_tag: 'text-generation',
      ...(expand.has('config') && m.architectures ? { config: { architectures: m.architectures, model_type: m.modelType } } : {}),
      ...(expand.has('safetensors') && m.parameters ? { safetensors: { parameters: { BF16: m.parameters }, total: m.parameters } } : {}),
    }));
}
