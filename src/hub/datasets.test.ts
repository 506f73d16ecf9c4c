import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseSplit, datasetClient, datasetInfo, formatHubDataRef, HubDatasetError, parseHubDataRef, resolveHubDataset } from './datasets';
import { globToRegExp, groupDataFiles, splitOfPath } from './dataset-files';
import { searchHubDatasets } from './search';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';
import { standInDatasetSha } from './stand-in-datasets-testing';
import { BIG_ROWS, DATASET_TOKEN, jsonlOf, ALPACA_ROWS, parquetOf, QA_ROWS, standInDatasets } from './stand-in-datasets-data-testing';
import { HubAuthError, HubIntegrityError, HubNetworkError } from './download';
import { fetchHubDataset, hubAccess } from '../cli/hub-dataset';
import { loadSplitFiles, storedDatasetKeys } from './dataset-store';
import { remoteSplitFile, statSplitFile } from './dataset-download';
import { openRecordSource } from '../data/records/record-source';
import { memoryKeyValue } from './store';

let hub: StandInHub;
const access = (token: string | null = null) => ({ hubUrl: hub.url, token });

beforeAll(async () => {
  hub = await startStandInHub({ models: {}, datasets: standInDatasets() });
});
afterAll(async () => hub.close());

async function problem(p: Promise<unknown>): Promise<HubDatasetError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(HubDatasetError);
  return e as HubDatasetError;
}

describe('parseHubDataRef', () => {
  it('reads id, revision, config and split, each optional but the id', () => {
    expect(parseHubDataRef('hub:yahma/alpaca-cleaned')).toEqual({ id: 'yahma/alpaca-cleaned', revision: null, config: null, split: null });
    expect(parseHubDataRef('hub:yahma/alpaca-cleaned/train')).toEqual({ id: 'yahma/alpaca-cleaned', revision: null, config: null, split: 'train' });
    expect(parseHubDataRef('hub:a/b@v1.0:default/test')).toEqual({ id: 'a/b', revision: 'v1.0', config: 'default', split: 'test' });
    expect(parseHubDataRef('hub:a/b:cfg')).toEqual({ id: 'a/b', revision: null, config: 'cfg', split: null });
    expect(formatHubDataRef(parseHubDataRef('hub:a/b@r:c/s'))).toBe('hub:a/b@r:c/s');
  });
  it('refuses what is not a reference, naming it and the expected form', () => {
    for (const bad of ['hub:', 'hub:noslash', 'hub:a/b/c/d', 'hub:a/b@', 'hub:../x', 'a/b']) {
      expect(() => parseHubDataRef(bad)).toThrow(/is not a Hub dataset reference: expected hub:OWNER\/NAME/);
    }
  });
});

describe('groupDataFiles (the datasets library’s split rules)', () => {
  const f = (...paths: string[]) => paths.map((path) => ({ path }));
  it('names splits by keywords between separators, and ignores metadata and other formats', () => {
    expect(splitOfPath('data/train-00000-of-00001.parquet')).toBe('train');
    expect(splitOfPath('my_valid.jsonl')).toBe('validation');
    expect(splitOfPath('test/part1.csv')).toBe('test');
    expect(splitOfPath('trainer.jsonl')).toBeNull();
    expect(splitOfPath('contest.jsonl')).toBeNull();
    const g = groupDataFiles(f('README.md', '.gitattributes', 'dataset_infos.json', 'train.jsonl', 'dev.jsonl', 'test.jsonl', 'notes.csv'));
    expect(g).toEqual([{ name: 'default', splits: [
      { name: 'train', files: f('train.jsonl') },
      { name: 'validation', files: f('dev.jsonl') },
      { name: 'test', files: f('test.jsonl') },
    ] }]);
  });
  it('puts every file in "train" when no name holds a split, and has no config without data files', () => {
    expect(groupDataFiles(f('b.parquet', 'a.parquet'))).toEqual([{ name: 'default', splits: [{ name: 'train', files: f('a.parquet', 'b.parquet') }] }]);
    expect(groupDataFiles(f('README.md', 'script.py'))).toEqual([]);
  });
  it('follows the README configs (data_files patterns by split)', () => {
    const card = [
      { config_name: 'en', data_files: [{ split: 'train', path: 'en/*.jsonl' }, { split: 'test', path: ['en/eval/**'] }] },
      { config_name: 'fr', data_files: 'fr/**/*.jsonl' },
    ];
    expect(groupDataFiles(f('en/a.jsonl', 'en/eval/x/b.jsonl', 'fr/deep/c.jsonl', 'fr/README.md'), card)).toEqual([
      { name: 'en', splits: [{ name: 'train', files: f('en/a.jsonl') }, { name: 'test', files: f('en/eval/x/b.jsonl') }] },
      { name: 'fr', splits: [{ name: 'train', files: f('fr/deep/c.jsonl') }] },
    ]);
    expect(globToRegExp('data/*.parquet').test('data/sub/x.parquet')).toBe(false);
  });
});

describe('datasetInfo / resolveHubDataset against the stand-in Hub', () => {
  it('lists the Parquet conversion’s configs and splits, at the commit', async () => {
    const info = await datasetInfo({ id: 'studio/qa-pairs', revision: null }, access());
    expect(info.sha).toBe(standInDatasetSha('studio/qa-pairs'));
    expect(info.source).toBe('parquet-conversion');
    expect(info.configs.map((c) => [c.name, c.splits.map((s) => s.name)])).toEqual([['default', ['train', 'test']], ['tiny', ['train']]]);
    const s = chooseSplit(info, null, 'test');
    expect(s.files).toEqual([{ path: 'default/test/0.parquet', url: `${hub.url}/api/datasets/studio/qa-pairs/parquet/default/test/0.parquet`, size: null }]);
  });

  it('uses the repository’s own files at a revision, and where there is no conversion', async () => {
    const sha = standInDatasetSha('studio/qa-pairs');
    const atSha = await resolveHubDataset(parseHubDataRef(`hub:studio/qa-pairs@${sha}`), access());
    expect([atSha.source, atSha.config, atSha.split, atSha.files.map((f) => f.path)]).toEqual(['repository', 'default', 'train', ['qa.jsonl']]);
    const s = await resolveHubDataset(parseHubDataRef('hub:studio/alpaca-jsonl'), access());
    expect(s.files.map((f) => f.path)).toEqual(['data/train-00000-of-00002.jsonl', 'data/train-00001-of-00002.jsonl']);
    expect(s.fileRevision).toBe(standInDatasetSha('studio/alpaca-jsonl'));
  });

  it('names a config or split that does not exist, listing those that do', async () => {
    const c = await problem(resolveHubDataset(parseHubDataRef('hub:studio/qa-pairs:nope'), access()));
    expect([c.problem, c.datasetId, c.available]).toEqual(['no-config', 'studio/qa-pairs', ['default', 'tiny']]);
    expect(c.message).toBe('Dataset studio/qa-pairs has no config "nope"; it has default, tiny');
    const s = await problem(resolveHubDataset(parseHubDataRef('hub:studio/qa-pairs/validation'), access()));
    expect([s.problem, s.available]).toEqual(['no-such-split', ['train', 'test']]);
    expect(s.message).toMatch(/studio\/qa-pairs \(config default\) has no split "validation"; it has train, test/);
  });

  it('a dataset that does not exist, a revision that does not, a private one', async () => {
    const none = await problem(datasetInfo({ id: 'studio/nothing', revision: null }, access()));
    expect([none.problem, none.message]).toEqual(['not-found', 'Dataset studio/nothing does not exist on the Hub, or is private: check the id; if it is yours, give an access token.']);
    expect((await problem(datasetInfo({ id: 'studio/nothing', revision: null }, access('hf_other')))).problem).toBe('not-found');
    const rev = await problem(datasetInfo({ id: 'studio/qa-pairs', revision: 'v9' }, access()));
    expect([rev.problem, rev.message]).toEqual(['not-found', 'Dataset studio/qa-pairs has no revision "v9" (or does not exist).']);
    expect((await problem(datasetInfo({ id: 'studio/private-qa', revision: null }, access()))).problem).toBe('not-found');
    expect((await datasetInfo({ id: 'studio/private-qa', revision: null }, access(DATASET_TOKEN))).private).toBe(true);
  });

  it('a gated dataset without a token is named and no file is requested', async () => {
    const before = hub.log.length;
    const g = await problem(datasetInfo({ id: 'studio/gated-qa', revision: null }, access()));
    expect(g.problem).toBe('gated');
    expect(g.message).toMatch(/^Dataset studio\/gated-qa is gated: .*give an access token.*Nothing was downloaded\.$/);
    expect(hub.log.slice(before).map((l) => l.file)).toEqual(['info']);
    // With the token: resolved, and the token went to the Hub.
    const s = await resolveHubDataset(parseHubDataRef('hub:studio/gated-qa'), access(DATASET_TOKEN));
    expect(s.files).toHaveLength(1);
    expect(hub.log.slice(before + 1).every((l) => l.auth)).toBe(true);
  });

  it('a dataset with no data file has no usable split', async () => {
    const e = await problem(datasetInfo({ id: 'studio/readme-only', revision: null }, access()));
    expect([e.problem, e.message]).toEqual(['no-split', 'Dataset studio/readme-only has no usable split: no Parquet conversion and no .parquet, .jsonl, .json or .csv data files in the repository.']);
  });
});

describe('searchHubDatasets', () => {
  it('lists by downloads with size and gated/private marks; a private one only with its token', async () => {
    const o = { hubUrl: hub.url, token: null, trusted: [new URL(hub.url).origin], signal: new AbortController().signal };
    const hits = await searchHubDatasets('qa', o);
    expect(hits).toEqual([
      { id: 'studio/qa-pairs', downloads: 900, size: 'n<1K', gated: false, private: false },
      { id: 'studio/gated-qa', downloads: 300, size: null, gated: true, private: false },
    ]);
    const mine = await searchHubDatasets('private', { ...o, token: DATASET_TOKEN });
    expect(mine).toEqual([{ id: 'studio/private-qa', downloads: 10, size: null, gated: false, private: true }]);
  });
});

describe('fetchHubDataset (Node cache)', () => {
  let cache: string;
  beforeAll(() => {
    cache = mkdtempSync(join(tmpdir(), 'lora-hubdata-'));
  });
  afterAll(() => rmSync(cache, { recursive: true, force: true }));
  const fileGets = (from: number) => hub.log.slice(from).filter((l) => l.method === 'GET' && /\.(parquet|jsonl)$/.test(l.file));

  it('downloads a split into the cache, verified, and reuses it the next time', async () => {
    const before = hub.log.length;
    const got = await fetchHubDataset('hub:studio/qa-pairs/test', access(), { cache });
    expect(got.paths).toEqual([join(cache, 'datasets', 'studio', 'qa-pairs', standInDatasetSha('studio/qa-pairs'), 'parquet', 'default', 'test', '0.parquet')]);
    expect(new Uint8Array(readFileSync(got.paths[0]))).toEqual(parquetOf(QA_ROWS.slice(20)));
    expect(fileGets(before)).toHaveLength(1);
    const mid = hub.log.length;
    const again = await fetchHubDataset('hub:studio/qa-pairs/test', access(), { cache });
    expect(again.paths).toEqual(got.paths);
    expect(fileGets(mid)).toHaveLength(0);
  });

  it('resumes a dropped download with a Range request and checks the SHA-256 over the whole file', async () => {
    const before = hub.log.length;
    hub.dropOnce('train.jsonl', 40_000);
    const o = { cache, pieceBytes: 16_384 };
    await expect(fetchHubDataset('hub:studio/big-jsonl', access(), o)).rejects.toBeInstanceOf(HubNetworkError);
    const got = await fetchHubDataset('hub:studio/big-jsonl', access(), o);
    expect(readFileSync(got.paths[0], 'utf8')).toBe(jsonlOf(BIG_ROWS));
    // Two whole pieces were kept: the second request asks for the rest only.
    expect(fileGets(before).map((l) => l.range)).toEqual([null, 'bytes=32768-']);
  });

  it('refuses a file whose bytes do not match the announced SHA-256, and keeps nothing as complete', async () => {
    const c2 = mkdtempSync(join(tmpdir(), 'lora-hubdata-'));
    const h2 = await startStandInHub({ models: {}, datasets: standInDatasets() });
    try {
      h2.datasets.corrupt('studio/qa-pairs', 'tiny/train/0.parquet');
      const e = await fetchHubDataset('hub:studio/qa-pairs:tiny', { hubUrl: h2.url, token: null }, { cache: c2 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(HubIntegrityError);
      expect((e as Error).message).toMatch(/^studio\/qa-pairs\/tiny\/train\/0\.parquet: SHA-256 mismatch after download/);
      const kept = join(c2, 'datasets', 'studio', 'qa-pairs', standInDatasetSha('studio/qa-pairs'), 'parquet', 'tiny', 'train', '0.parquet');
      expect([existsSync(kept), existsSync(`${kept}.part`)]).toEqual([false, false]);
      // Several jsonl files of one split come down in the split's order.
      const got = await fetchHubDataset('hub:studio/alpaca-jsonl', { hubUrl: h2.url, token: null }, { cache: c2 });
      expect(got.paths.map((p) => readFileSync(p, 'utf8')).join('')).toBe(jsonlOf(ALPACA_ROWS.slice(0, 10)));
    } finally {
      await h2.close();
      rmSync(c2, { recursive: true, force: true });
    }
  });

  it('sends HF_TOKEN for a gated dataset only to the Hub it names, and names a gated one without it', async () => {
    const e = await fetchHubDataset('hub:studio/gated-qa', access(), { cache }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HubDatasetError);
    expect(existsSync(join(cache, 'datasets', 'studio', 'gated-qa'))).toBe(false);
    const a = hubAccess(hub.url, { HF_TOKEN: DATASET_TOKEN });
    expect(a.trusted).toEqual([new URL(hub.url).origin]);
    const got = await fetchHubDataset('hub:studio/gated-qa', a, { cache });
    expect(got.paths).toHaveLength(1);
    // Another token is refused by the Hub: typed as an auth error naming the dataset.
    const wrong = await fetchHubDataset('hub:studio/gated-qa', { hubUrl: hub.url, token: 'hf_wrong' }, { cache: mkdtempSync(join(tmpdir(), 'lora-hubdata-')) }).catch((x: unknown) => x);
    expect(wrong).toBeInstanceOf(HubAuthError);
    expect((wrong as Error).message).toMatch(/studio\/gated-qa.*The dataset is gated or private/);
  });

  it('--hub-endpoint over HF_ENDPOINT over huggingface.co; a bad one is named', () => {
    expect(hubAccess(undefined, {}).hubUrl).toBe('https://huggingface.co');
    expect(hubAccess(undefined, { HF_ENDPOINT: 'https://mirror.example/' }).hubUrl).toBe('https://mirror.example');
    expect(hubAccess('http://127.0.0.1:9', { HF_ENDPOINT: 'https://mirror.example' }).hubUrl).toBe('http://127.0.0.1:9');
    expect(() => hubAccess('http://remote.example', {})).toThrow(/--hub-endpoint: "http:\/\/remote.example" uses plain http/);
  });
});

describe('loadSplitFiles (the page’s IndexedDB store, on a memory KeyValue)', () => {
  it('downloads and keeps a split, reuses it on the next visit, and offline from the kept resolution', async () => {
    const h2 = await startStandInHub({ models: {}, datasets: standInDatasets() });
    const kv = memoryKeyValue();
    const ref = parseHubDataRef('hub:studio/qa-pairs:tiny');
    const a = { hubUrl: h2.url, token: null };
    const first = await loadSplitFiles(kv, ref, a);
    expect([first.fromStore, first.offline, first.split.split]).toEqual([false, false, 'train']);
    expect(first.files.map((f) => f.bytes)).toEqual([parquetOf(QA_ROWS.slice(0, 4))]);
    expect(await storedDatasetKeys(kv, 'studio/qa-pairs')).toEqual([`f|studio/qa-pairs|${standInDatasetSha('studio/qa-pairs')}|parquet-conversion|tiny/train/0.parquet`]);
    const before = h2.log.length;
    const second = await loadSplitFiles(kv, ref, a);
    expect([second.fromStore, second.offline]).toEqual([true, false]);
    expect(h2.log.slice(before).filter((l) => l.method === 'GET' && l.file.endsWith('.parquet'))).toEqual([]);
    await h2.close();
    const offline = await loadSplitFiles(kv, ref, a);
    expect([offline.fromStore, offline.offline]).toEqual([true, true]);
    expect(offline.files[0].bytes).toEqual(parquetOf(QA_ROWS.slice(0, 4)));
  });

  it('a dropped download resumes from its last whole chunk (Range), verified by SHA-256 over the whole file', async () => {
    const kv = memoryKeyValue();
    const ref = parseHubDataRef('hub:studio/big-jsonl');
    const before = hub.log.length;
    hub.dropOnce('train.jsonl', 40_000);
    const o = { chunkBytes: 16_384 };
    await expect(loadSplitFiles(kv, ref, access(), o)).rejects.toBeInstanceOf(HubNetworkError);
    expect(await storedDatasetKeys(kv, 'studio/big-jsonl')).toEqual([]); // no manifest: not a kept file
    const got = await loadSplitFiles(kv, ref, access(), o);
    expect(new TextDecoder().decode(got.files[0].bytes)).toBe(jsonlOf(BIG_ROWS));
    expect(hub.log.slice(before).filter((l) => l.method === 'GET' && l.file === 'train.jsonl').map((l) => l.range)).toEqual([null, 'bytes=32768-']);
    const size = new TextEncoder().encode(jsonlOf(BIG_ROWS)).byteLength;
    expect([...kv.map.keys()].filter((k) => k.startsWith('c|studio/big-jsonl|')).length).toBe(Math.ceil(size / 16_384));
    expect([...kv.map.keys()].some((k) => k.startsWith('p|'))).toBe(false);
    // Kept: the next visit reads it from the store.
    expect((await loadSplitFiles(kv, ref, access(), o)).fromStore).toBe(true);
  });

  it('a gated dataset without a token stores nothing', async () => {
    const kv = memoryKeyValue();
    const e = await loadSplitFiles(kv, parseHubDataRef('hub:studio/gated-qa'), access()).catch((x: unknown) => x);
    expect((e as HubDatasetError).problem).toBe('gated');
    expect(kv.map.size).toBe(0);
  });
});

describe('remoteSplitFile (a look before downloading)', () => {
  it('reads a converted Parquet file’s row count and first rows by Range requests only', async () => {
    const s = await resolveHubDataset(parseHubDataRef('hub:studio/qa-pairs/train'), access());
    expect(s.files.map((f) => f.path)).toEqual(['default/train/0.parquet', 'default/train/1.parquet']);
    const client = datasetClient(access());
    const info = await statSplitFile(client, s, s.files[0]);
    const before = hub.log.length;
    const src = openRecordSource([{ name: s.files[0].path, data: remoteSplitFile(client, s, s.files[0], info) }], { fileType: 'parquet' });
    expect(await src.totalRows()).toBe(12);
    const first: unknown[] = [];
    for await (const r of src.records({ maxRecords: 2 })) if ('value' in r) first.push(r.value);
    expect(first).toEqual(QA_ROWS.slice(0, 2));
    const gets = hub.log.slice(before).filter((l) => l.method === 'GET');
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((l) => l.range !== null && l.status === 206)).toBe(true);
  });
});
