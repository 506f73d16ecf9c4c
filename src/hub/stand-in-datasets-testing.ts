// The dataset part of the stand-in Hub (stand-in-server-testing.ts), answered as huggingface.co does:
//   GET /api/datasets?search=&limit=&expand=…                 search (JSON array; the `expand` fields)
//   GET /api/datasets/{id}/revision/{rev}                     info: sha, private, gated, siblings, cardData
//   GET /api/datasets/{id}/parquet                            the Parquet conversion {config: {split: [url]}}
//   GET /api/datasets/{id}/parquet/{config}/{split}/{n}.parquet  a converted file (Range, HEAD)
//   GET /datasets/{id}/resolve/{rev}/{path}                   a repository file (Range, HEAD)
// A private dataset answers 401 to every caller without its token (as unknown); a gated one shows
// its info to anyone and its files only with its token (401 without, 403 with another).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { entryOf, toBytes, type Entry, type ServeEntry } from './stand-in-server-testing';

export interface StandInDataset {
  /** The repository's files (data files, README.md…). */
  files?: Map<string, Uint8Array | string>;
  /** The Parquet conversion: config → split → files' bytes (none: the dataset has no conversion). */
  conversion?: Record<string, Record<string, Uint8Array[]>>;
  /** Required for the files (gated) or for everything (private). */
  token?: string;
  gated?: 'auto' | 'manual';
  private?: boolean;
  downloads?: number;
  /** cardData.size_categories, e.g. "1K<n<10K". */
  sizeCategory?: string;
  /** cardData.configs (the README's YAML `configs:`). */
  cardConfigs?: unknown;
}

export interface StandInDatasets {
  handle(req: IncomingMessage, res: ServerResponse, base: string): boolean;
  /** Flips the last byte of a served file (`{config}/{split}/{n}.parquet` or a repository path), keeping its announced SHA-256. */
  corrupt(id: string, path: string): void;
}

/** The commit a stand-in dataset is at: derived from its id, stable across runs. */
export const standInDatasetSha = (id: string): string => createHash('sha1').update(`dataset:${id}`).digest('hex');

export function createStandInDatasets(
  datasets: Record<string, StandInDataset>,
  cors: Record<string, string>,
  serve: ServeEntry,
  record: (method: string, model: string, file: string, status: number, auth: boolean, range: string | null) => void,
): StandInDatasets {
  const repoFiles = new Map<string, Map<string, Entry>>();
  const converted = new Map<string, Map<string, Entry>>();
  for (const [id, d] of Object.entries(datasets)) {
    repoFiles.set(id, new Map([...(d.files ?? new Map<string, Uint8Array | string>())].map(([p, v]) => [p, entryOf(toBytes(v))])));
    const conv = new Map<string, Entry>();
    for (const [config, splits] of Object.entries(d.conversion ?? {})) {
      for (const [split, files] of Object.entries(splits)) files.forEach((b, n) => conv.set(`${config}/${split}/${n}.parquet`, entryOf(b)));
    }
    converted.set(id, conv);
  }

  const handle = (req: IncomingMessage, res: ServerResponse, base: string): boolean => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    const auth = req.headers.authorization ?? null;
    const range = (req.headers.range as string | undefined) ?? null;
    const answer = (status: number, id: string, what: string, body: unknown): true => {
      record(method, `datasets/${id}`, what, status, !!auth, range);
      const json = typeof body === 'string' ? null : JSON.stringify(body);
      res.writeHead(status, { ...cors, 'Content-Type': json === null ? 'text/plain' : 'application/json', ...(status >= 400 ? { 'X-Error-Message': String(body) } : {}) });
      res.end(method === 'HEAD' ? undefined : (json ?? String(body)));
      return true;
    };
    if (method === 'GET' && path === '/api/datasets') {
      const needle = (url.searchParams.get('search') ?? '').toLowerCase();
      const limit = Number(url.searchParams.get('limit') ?? 500);
      const expand = new Set(url.searchParams.getAll('expand'));
      const list = Object.entries(datasets)
        .filter(([id, d]) => id.toLowerCase().includes(needle) && (!d.private || auth === `Bearer ${d.token}`))
        .sort((a, b) => (b[1].downloads ?? 0) - (a[1].downloads ?? 0))
        .slice(0, limit)
        .map(([id, d]) => ({
          _id: `id-${id}`,
          id,
          private: d.private ?? false,
          gated: d.gated ?? false,
          downloads: d.downloads ?? 0,
          likes: 0,
          lastModified: '2026-01-01T00:00:00.000Z',
          ...(expand.has('cardData') ? { cardData: d.sizeCategory ? { size_categories: [d.sizeCategory] } : {} } : {}),
        }));
      return answer(200, '', 'search', list);
    }
    const api = /^\/api\/datasets\/([^/]+\/[^/]+)\/(revision\/([^/]+)|parquet(?:\/(.+))?)$/.exec(path);
    const resolve = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!api && !resolve) return false;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const id = (api ?? resolve)![1];
    const d = datasets[id];
    const what = api ? (api[3] ? 'info' : api[4] ? `parquet/${api[4]}` : 'parquet') : resolve![3];
    const mayRead = !d?.token || auth === `Bearer ${d.token}`;
    // Unknown and private-without-its-token look the same: 401 (404 to a caller with some token, as the Hub).
    if (!d || (d.private && !mayRead)) return answer(auth && !d ? 404 : 401, id, what, 'Repository not found');
    const sha = standInDatasetSha(id);
    if (api?.[3] !== undefined) {
      const rev = api[3];
      if (rev !== 'main' && rev !== sha) return answer(404, id, what, `Revision not found: ${rev}`);
      return answer(200, id, what, {
        _id: `id-${id}`,
        id,
        sha,
        private: d.private ?? false,
        gated: d.gated ?? false,
        downloads: d.downloads ?? 0,
        cardData: { ...(d.sizeCategory ? { size_categories: [d.sizeCategory] } : {}), ...(d.cardConfigs ? { configs: d.cardConfigs } : {}) },
        siblings: [...repoFiles.get(id)!].map(([p, e]) => ({ rfilename: p, size: e.bytes.byteLength })),
      });
    }
    if (api && api[4] === undefined) {
      if (!d.conversion) return answer(404, id, what, 'Not found');
      const listing: Record<string, Record<string, string[]>> = {};
      for (const [config, splits] of Object.entries(d.conversion)) {
        listing[config] = {};
        for (const [split, files] of Object.entries(splits)) listing[config][split] = files.map((_, n) => `${base}/api/datasets/${id}/parquet/${config}/${split}/${n}.parquet`);
      }
      return answer(200, id, what, listing);
    }
    if (!mayRead) return answer(auth ? 403 : 401, id, what, auth ? 'Access to this dataset is restricted and you are not in the authorized list.' : 'Access to this dataset is restricted. You must be authenticated.');
    let entry: Entry | undefined;
    if (api) entry = converted.get(id)!.get(api[4]!);
    else {
      if (resolve![2] !== 'main' && resolve![2] !== sha) return answer(404, id, what, 'Revision not found');
      entry = repoFiles.get(id)!.get(resolve![3]);
    }
    if (!entry) return answer(404, id, what, 'Entry not found');
    // As a dataset repository's .gitattributes: data files are LFS files (their SHA-256 announced), README.md is not.
    serve(req, res, entry, /\.(parquet|jsonl|json|csv)$/.test(what), (status) => record(method, `datasets/${id}`, what, status, !!auth, range));
    return true;
  };
  const corrupt = (id: string, path: string): void => {
    const e = converted.get(id)?.get(path) ?? repoFiles.get(id)?.get(path);
    if (!e) throw new Error(`no ${path} in dataset ${id}`);
    const bytes = e.bytes.slice();
    bytes[bytes.length - 1] ^= 0xff;
    e.bytes = bytes;
  };
  return { handle, corrupt };
}
