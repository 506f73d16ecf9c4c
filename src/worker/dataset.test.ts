import { describe, expect, it } from 'vitest';
import { DatasetError, truncateExample } from '../data';
import { loadTokenizerDir } from '../data/testdata/fixtures';
import { DEFAULT_READ_OPTIONS, packDataset, unpackDataset, type DatasetReadOptions } from '../util/dataset-package';
import { keepLength, loadDataset, recordPackage, trainValidationSplit, truncatedExamples, validationFileExamples, type DetailedSummary, type LoadedData } from './dataset';
import { itemArray, type PlanItem } from '../engine/train/plan';
import { cutExample, protectsTurns, splitValidation, type PreparedDataset } from '../data';
import { ALPACA_COLUMNS, alpacaRows, jsonlOf, writeHyparquet, type Row } from '../data/records/parquet-testing';
import type { PrepareProgress } from '../data';
import { lineErrors } from './protocol';

const tok = loadTokenizerDir('public/demo');
const enc = new TextEncoder();
const chat = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
const CHAT = Array.from({ length: 10 }, (_, i) => chat(`What is ${i} plus ${i}?`, `${i} plus ${i} is ${2 * i}.`)).join('\n');

function opts(p: Partial<DatasetReadOptions>): DatasetReadOptions {
  return { ...DEFAULT_READ_OPTIONS, ...p, validation: { ...DEFAULT_READ_OPTIONS.validation, ...p.validation } };
}

/** Loads a plain file, or a package's files with its options and validation file (as the page restores a run's and the handler passes them). */
async function load(name: string, kept: Uint8Array | Blob, skipInvalid = false) {
  const blob = kept instanceof Blob ? kept : new Blob([kept as Uint8Array<ArrayBuffer>]);
  const bytesOf = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
  const pkg = await unpackDataset(blob);
  const read = pkg ? { options: pkg.options, validation: pkg.validation && { name: pkg.validation.name, bytes: await bytesOf(pkg.validation.blob) } } : {};
  const files = pkg ? await Promise.all(pkg.train.map(async (f) => ({ name: f.name, data: await bytesOf(f.blob) }))) : [{ name, data: await bytesOf(blob) }];
  const { prepared, summary } = await loadDataset(tok, name, files, skipInvalid, () => undefined, read);
  return { prepared, summary: summary as DetailedSummary };
}

describe('dataset package', () => {
  const text = async (b: Blob) => new TextDecoder().decode(await b.arrayBuffer());

  it('is the plain file when nothing needs saying', async () => {
    const file = enc.encode(CHAT);
    const out = packDataset({ hub: null, options: DEFAULT_READ_OPTIONS, train: [{ name: 'a.jsonl', data: file }], validation: null });
    expect(new Uint8Array(await out.arrayBuffer())).toEqual(file);
    expect(await unpackDataset(out)).toBeNull();
  });

  it('round-trips options, the file and a validation file', async () => {
    const o = opts({ format: 'completion', mapping: 'prompt=q,completion=a', trainOn: 'all', txtMode: 'paragraph', validation: { mode: 'file', fraction: 0.05 } });
    const kept = packDataset({ hub: null, options: o, train: [{ name: 'ü.csv', data: enc.encode('q,a\n1,2\n') }], validation: { name: 'v.csv', data: enc.encode('q,a\n3,4\n') } });
    const p = (await unpackDataset(kept))!;
    expect(p.options).toEqual(o);
    expect(p.train[0].name).toBe('ü.csv');
    expect(await text(p.train[0].blob)).toBe('q,a\n1,2\n');
    expect(await text(p.validation!.blob)).toBe('q,a\n3,4\n');
    expect(p.hub).toBeNull();
  });

  it('holds Parquet shards as Blobs, given back as slices with their bytes', async () => {
    const shard = (i: number) => writeHyparquet(alpacaRows(5 + i), ALPACA_COLUMNS, { rowGroupSize: 3 });
    const blobs = [0, 1, 2].map((i) => new Blob([shard(i) as Uint8Array<ArrayBuffer>]));
    const kept = packDataset({ hub: null, options: DEFAULT_READ_OPTIONS, train: blobs.map((b, i) => ({ name: `${i}.parquet`, data: b })), validation: null });
    expect(kept.size).toBeGreaterThan(blobs.reduce((n, b) => n + b.size, 0));
    const p = (await unpackDataset(kept))!;
    expect(p.train.map((f) => f.name)).toEqual(['0.parquet', '1.parquet', '2.parquet']);
    for (let i = 0; i < 3; i++) expect(new Uint8Array(await p.train[i].blob.arrayBuffer())).toEqual(shard(i));
  });

  it('names a package cut short: its header, or a file in it', async () => {
    const kept = packDataset({ hub: null, options: opts({ trainOn: 'all' }), train: [{ name: 'chat.jsonl', data: enc.encode(CHAT) }], validation: null });
    await expect(unpackDataset(kept.slice(0, kept.size - 5))).rejects.toThrow('dataset package: chat.jsonl is truncated');
    await expect(unpackDataset(kept.slice(0, 20))).rejects.toThrow('dataset package: truncated header');
  });

  it('keeps the Hub split one plain file came from (a resumed run names the dataset), and ignores a damaged origin', async () => {
    const hub = { id: 'yahma/alpaca-cleaned', config: 'default', split: 'train', revision: '0123456789abcdef' };
    const file = enc.encode(CHAT);
    const kept = packDataset({ hub, options: DEFAULT_READ_OPTIONS, train: [{ name: 'train.jsonl', data: file }], validation: null });
    expect(kept.size).toBeGreaterThan(file.length); // packaged, though one file with default options
    const p = (await unpackDataset(kept))!;
    expect(p.hub).toEqual(hub);
    expect(new Uint8Array(await p.train[0].blob.arrayBuffer())).toEqual(file);
    // A header whose origin lost a field still gives the files; the origin is dropped, not guessed.
    // (a number as long as the quoted string, written over it: the header keeps its length)
    const bytes = new Uint8Array(await kept.arrayBuffer());
    const at = new TextDecoder('latin1').decode(bytes).indexOf('"0123456789abcdef"');
    expect(at).toBeGreaterThan(0);
    bytes.set(enc.encode('123456789012345678'), at);
    const q = (await unpackDataset(new Blob([bytes])))!;
    expect(q.hub).toBeNull();
    expect(new Uint8Array(await q.train[0].blob.arrayBuffer())).toEqual(file);
  });
});

describe('keepLength', () => {
  it('is the smallest max length at which truncateExample keeps a trained token', () => {
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(rnd() * 30);
      const trainMask = Uint8Array.from({ length: n }, () => (rnd() < 0.4 ? 1 : 0));
      const inputIds = Int32Array.from({ length: n }, (_, i) => i);
      for (const protect of [true, false]) {
        const k = keepLength(trainMask, protect);
        for (let L = 1; L <= n + 1; L++) {
          const kept = truncateExample({ inputIds, trainMask }, L, protect).example.trainMask.some((m) => m === 1);
          expect(kept, `mask ${trainMask.join('')} L ${L} protect ${protect} keepAt ${k}`).toBe(L >= k);
        }
      }
    }
  });
});

describe('loadDataset with options', () => {
  it('plain bytes: detected format, assistant-only masks, details for the page', async () => {
    const { summary } = await load('chat.jsonl', enc.encode(CHAT));
    expect(summary.format).toBe('messages');
    expect(summary.examples).toBe(10);
    expect(summary.trainedTokens).toBeLessThan(summary.tokens);
    expect(summary.details.lengths.length).toBe(10);
    expect(summary.details.previewLines).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(summary.details.trainOn).toBe('assistant');
    expect(summary.details.validation).toBeNull();
    const masked = summary.preview[0].filter((t) => !t.trained).length;
    expect(masked).toBeGreaterThan(0);
  });

  it('train on all tokens', async () => {
    const { summary } = await load('chat.jsonl', packDataset({ hub: null, options: opts({ trainOn: 'all' }), train: [{ name: 'chat.jsonl', data: enc.encode(CHAT) }], validation: null }));
    expect(summary.trainedTokens).toBe(summary.tokens);
    expect(summary.preview[0].every((t) => t.trained)).toBe(true);
  });

  it('format override and column mapping on a CSV', async () => {
    const csv = 'question,answer\nWhat is 1?,One.\nWhat is 2?,Two.\n';
    // Without a mapping the columns are unknown: refused, every line named.
    await expect(load('qa.csv', enc.encode(csv))).rejects.toThrow(DatasetError);
    const { summary } = await load(
      'qa.csv',
      packDataset({ hub: null, options: opts({ format: 'completion', mapping: 'prompt=question, completion=answer' }), train: [{ name: 'qa.csv', data: enc.encode(csv) }], validation: null }),
    );
    expect(summary.format).toBe('completion');
    expect(summary.examples).toBe(2);
    expect(summary.details.previewLines).toEqual([2, 3]);
  });

  it('a bad column mapping is a clear DatasetError', async () => {
    const p = packDataset({ hub: null, options: opts({ mapping: 'answer' }), train: [{ name: 'a.jsonl', data: enc.encode(CHAT) }], validation: null });
    await expect(load('a.jsonl', p)).rejects.toThrow(/^Column mapping: .*expected field=column/);
  });

  it('text mode: lines or paragraphs', async () => {
    const txt = enc.encode('one line\nanother line\n\nthird line\n');
    const lines = await load('t.txt', txt);
    expect(lines.summary.examples).toBe(3);
    const paras = await load('t.txt', packDataset({ hub: null, options: opts({ txtMode: 'paragraph' }), train: [{ name: 't.txt', data: txt }], validation: null }));
    expect(paras.summary.examples).toBe(2);
  });

  it('a validation file: counted, prepared with the same options, and used for the split', async () => {
    const val = Array.from({ length: 3 }, (_, i) => chat(`Held out ${i}?`, `Yes ${i}.`)).join('\n');
    const buf = packDataset({ hub: null, options: opts({ validation: { mode: 'file', fraction: 0.1 } }), train: [{ name: 'chat.jsonl', data: enc.encode(CHAT) }], validation: { name: 'val.jsonl', data: enc.encode(val) } });
    const { prepared, summary } = await load('chat.jsonl', buf);
    expect(summary.examples).toBe(10);
    expect(summary.details.validation).toMatchObject({ fileName: 'val.jsonl', examples: 3 });
    expect(validationFileExamples(prepared, 64)).toHaveLength(3);
    const split = trainValidationSplit(prepared, 64, 2, 0);
    expect(split.train).toHaveLength(10);
    expect(split.validation).toHaveLength(3);
  });

  it('without a validation file the split holds out examples of the dataset', async () => {
    const { prepared } = await load('chat.jsonl', enc.encode(CHAT));
    expect(validationFileExamples(prepared, 64)).toBeNull();
    const split = trainValidationSplit(prepared, 64, 2, 0);
    expect(split.train).toHaveLength(8);
    expect(split.validation).toHaveLength(2);
  });

  it("a run's examples are a view over the table: item by item what cutExample gives, the untrainable left out, the split the same as over an array", async () => {
    const long = Array.from({ length: 12 }, (_, i) => chat(`${'Tell me more. '.repeat(i)}Question ${i}?`, `Answer ${i}.`)).join('\n');
    const { prepared } = await load('long.jsonl', enc.encode(long));
    const table = (prepared as PreparedDataset).examples;
    // A cut at the median length: the longer examples lose (part of) their answer, so nothing trained is left.
    const L = [...table].map((e) => e.inputIds.length).sort((a, b) => a - b)[6];
    const protect = protectsTurns('assistant', 'messages');
    const want = [...table].map((ex) => cutExample(ex, L, protect).example).filter((e) => e !== null);
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(12);
    const seq = (e: PlanItem) => ('inputIds' in e ? [Array.from(e.inputIds), Array.from(e.trainMask)] : null);
    const items = truncatedExamples(prepared, L);
    expect(itemArray(items).map(seq)).toEqual(want.map(seq));
    expect(Array.from({ length: items.length }, (_, i) => items.lengthOf(i))).toEqual(want.map((e) => e.inputIds.length));
    // One held out (the studio holds out at most a fifth).
    const split = trainValidationSplit(prepared, L, 1, 5);
    const byArray = splitValidation(want, 1 / want.length, 5); // the same rule over the array
    expect(split.validation.length).toBe(1);
    expect(itemArray(split.train).map(seq)).toEqual(byArray.train.map(seq));
    expect(itemArray(split.validation).map(seq)).toEqual(byArray.validation.map(seq));
  });

  it('a bad validation file is refused by name, with its lines', async () => {
    const buf = packDataset({ hub: null, options: DEFAULT_READ_OPTIONS, train: [{ name: 'chat.jsonl', data: enc.encode(CHAT) }], validation: { name: 'val.jsonl', data: enc.encode(`${chat('a', 'b')}\n{oops\n`) } });
    const err = await load('chat.jsonl', buf).catch((e: unknown) => e as DatasetError);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).message).toMatch(/^Validation file val\.jsonl: /);
    expect((err as DatasetError).issues.map((i) => i.line)).toEqual([2]);
  });
});

describe('preference data in the studio', () => {
  const pair = (i: number) => JSON.stringify({ prompt: `Question number ${i}: what is ${i} plus ${i}?`, chosen: ` It is ${2 * i}.`, rejected: ` It is ${2 * i + 1}, I think.` });
  const PAIRS = Array.from({ length: 10 }, (_, i) => pair(i)).join('\n');

  it('is detected and summarised as pairs, each previewed as prompt | chosen | rejected', async () => {
    const { summary, prepared } = await load('p.jsonl', enc.encode(PAIRS));
    expect(summary.format).toBe('preference');
    expect(summary.examples).toBe(10);
    expect(summary.pairs?.shape).toBe('standard');
    expect(summary.preview).toEqual([]);
    const first = summary.pairs!.preview[0];
    expect(first.line).toBe(1);
    // The prompt is never trained; each completion's tokens and its EOS are.
    expect(first.prompt.every((t) => !t.trained)).toBe(true);
    expect(first.chosen.every((t) => t.trained)).toBe(true);
    expect(first.rejected.map((t) => t.text).join('')).toContain('I think');
    expect(first.chosen.at(-1)!.id).toBe(tok.eosId);
    expect(summary.details.lengths.length).toBe(10);
    expect('pairs' in prepared).toBe(true);
  });

  it('cuts the pairs for a run exactly as preparePreferenceDataset does with the run lengths', async () => {
    const { prepared } = await load('p.jsonl', enc.encode(PAIRS));
    const { preparePreferenceDataset } = await import('../data/preference');
    const direct = await preparePreferenceDataset(enc.encode(PAIRS), tok, { fileName: 'p.jsonl', maxLength: 12, maxPromptLength: 5 });
    const { train, validation } = trainValidationSplit(prepared, 12, 0, 0, 5);
    expect(validation.length).toBe(0);
    expect(itemArray(train).map((p) => ('chosen' in p ? [Array.from(p.chosen.inputIds), Array.from(p.chosen.trainMask), Array.from(p.rejected.inputIds)] : null))).toEqual(
      direct.pairs.map((p) => [Array.from(p.chosen.inputIds), Array.from(p.chosen.trainMask), Array.from(p.rejected.inputIds)]),
    );
    expect(() => trainValidationSplit(prepared, 12, 0, 0, 12)).toThrow(/Max prompt length \(12\) must be below Max length \(12\)/);
  });

  it('holds out pairs for validation, and takes a validation file of pairs', async () => {
    const { prepared } = await load('p.jsonl', enc.encode(PAIRS));
    const split = trainValidationSplit(prepared, 64, 2, 3);
    expect([split.train.length, split.validation.length]).toEqual([8, 2]);
    expect(itemArray(split.validation).every((p) => 'chosen' in p)).toBe(true);
    const pkg = packDataset({ hub: null, options: opts({ validation: { mode: 'file', fraction: 0.1 } }), train: [{ name: 'p.jsonl', data: enc.encode(PAIRS) }], validation: { name: 'v.jsonl', data: enc.encode(pair(20)) } });
    const withFile = await load('p.jsonl', pkg);
    expect(withFile.summary.details.validation?.examples).toBe(1);
    expect(trainValidationSplit(withFile.prepared, 64, 0, 0).validation.length).toBe(1);
    const sft = packDataset({ hub: null, options: opts({ validation: { mode: 'file', fraction: 0.1 } }), train: [{ name: 'p.jsonl', data: enc.encode(PAIRS) }], validation: { name: 'v.jsonl', data: enc.encode(CHAT) } });
    await expect(load('p.jsonl', sft)).rejects.toThrow(/Validation file v.jsonl: not preference data/);
  });

  it('names each malformed pair with its line and field', async () => {
    const bad = [pair(1), JSON.stringify({ prompt: 'Q', chosen: 'same', rejected: 'same' }), JSON.stringify({ prompt: 'Q', chosen: '', rejected: 'x' }), JSON.stringify({ prompt: 'Q', chosen: 'a' })].join('\n');
    const err = await load('bad.jsonl', enc.encode(bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    const issues = (err as DatasetError).issues.map((i) => [i.line, i.reason]);
    expect(issues).toEqual([
      [2, "fields 'chosen' and 'rejected' are identical"],
      [3, "field 'chosen' is empty"],
      [4, "missing field 'rejected'"],
    ]);
  });
});

/** A Blob whose own arrayBuffer() calls are counted (a range is read through slice(), a new Blob). */
function spiedBlob(bytes: Uint8Array): { blob: Blob; whole: () => number } {
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>]);
  let whole = 0;
  const spy = new Proxy(blob, {
    get(t, k) {
      if (k === 'arrayBuffer') whole++;
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return { blob: spy, whole: () => whole };
}

const idsOf = (d: LoadedData) => ('examples' in d ? [...d.examples].map((e) => [Array.from(e.inputIds), Array.from(e.trainMask)]) : []);

describe('a .parquet file from the page', () => {
  it('is read from its Blob by byte ranges, gives the jsonl summary, and reports rows of the total', async () => {
    const rows = CHAT.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // The Blob is never read whole: arrayBuffer() of the Blob itself is not called.
    const spy = spiedBlob(writeHyparquet(rows, { messages: 'turns' }, { rowGroupSize: 3 }));
    const progress: PrepareProgress[] = [];
    const fromParquet = await loadDataset(tok, 'chat.parquet', [{ name: 'chat.parquet', data: spy.blob }], false, (p) => progress.push(p));
    const fromJsonl = await load('chat.jsonl', enc.encode(CHAT));
    expect(spy.whole()).toBe(0);
    expect(idsOf(fromJsonl.prepared).length).toBe(10);
    expect(idsOf(fromParquet.prepared)).toEqual(idsOf(fromJsonl.prepared));
    expect(fromParquet.summary.details.fileType).toBe('parquet');
    expect(progress.at(-1)).toMatchObject({ rows: 10, totalRows: 10 });
  });
});

describe("a Hub split's Parquet shards from the page", () => {
  // 2500 Alpaca rows in three files (1000, 700, 800 rows; row groups of 400, 300 and 500 rows): the
  // pipeline reports progress every 2000 records, so one report falls inside the third file.
  const rows = alpacaRows(2500);
  const cuts = [0, 1000, 1700, 2500];
  const names = ['train-00000-of-00003.parquet', 'train-00001-of-00003.parquet', 'train-00002-of-00003.parquet'];
  const groups = [400, 300, 500];
  const write = (all: Row[]) => names.map((_, i) => writeHyparquet(all.slice(cuts[i], cuts[i + 1]), ALPACA_COLUMNS, { rowGroupSize: groups[i] }));
  const written = write(rows);
  const shards = (bytes = written) => names.map((name, i) => ({ name, spy: spiedBlob(bytes[i]) }));
  const asFiles = (s: ReturnType<typeof shards>) => s.map((f) => ({ name: f.name, data: f.spy.blob }));
  const jsonl = (n: number) => load('all.jsonl', enc.encode(jsonlOf(rows.slice(0, n))));

  it('are read as one source by byte ranges: the examples of the same rows as one jsonl, rows of the total over all files', async () => {
    const split = shards();
    const progress: PrepareProgress[] = [];
    const got = await loadDataset(tok, 'studio/x default-train.parquet', asFiles(split), false, (p) => progress.push(p));
    expect(split.map((f) => f.spy.whole())).toEqual([0, 0, 0]);
    const want = await jsonl(2500);
    expect(idsOf(want.prepared)).toHaveLength(2500);
    expect(idsOf(got.prepared)).toEqual(idsOf(want.prepared));
    expect(got.summary.fileName).toBe('studio/x default-train.parquet');
    expect(got.summary.details.fileType).toBe('parquet');
    // Every report counts rows over the three files, of all 2500: the one at record 2000 is past
    // the first two files (1700 rows), the last at the end of the third.
    expect(progress.map((p) => p.totalRows)).toEqual(progress.map(() => 2500));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress[0].rows).toBeGreaterThanOrEqual(1700);
    expect(progress[0].rows).toBeLessThan(2500);
    expect(progress.at(-1)).toMatchObject({ rows: 2500, totalRows: 2500, examples: 2500 });
  });

  it('stop at the row limit across files', async () => {
    const split = shards();
    const progress: PrepareProgress[] = [];
    const got = await loadDataset(tok, 'x.parquet', asFiles(split), false, (p) => progress.push(p), { options: opts({ maxRecords: 1200 }) });
    expect(idsOf(got.prepared)).toHaveLength(1200);
    expect(idsOf(got.prepared)).toEqual(idsOf((await jsonl(1200)).prepared));
    expect(progress.at(-1)).toMatchObject({ rows: 1200, totalRows: 1200 });
    expect(split.map((f) => f.spy.whole())).toEqual([0, 0, 0]);
  });

  it("name a bad row's file, row and row group", async () => {
    const bad = write(rows.map((r, i) => (i === 1002 ? { ...r, output: null } : r)));
    const got = await loadDataset(tok, 'x.parquet', asFiles(shards(bad)), true, () => undefined);
    expect(got.summary.examples).toBe(2499);
    // Row 1002 of the split is row 2 of the second file, in its first row group (300 rows each).
    expect(got.summary.skipped.map((e) => e.place)).toEqual(['train-00001-of-00003.parquet: row 2 (row group 0)']);
    const refused = await loadDataset(tok, 'x.parquet', asFiles(shards(bad)), false, () => undefined).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DatasetError);
    // The page lists the refusal's bad rows by the same place (protocol.ts lineErrors).
    expect(lineErrors((refused as DatasetError).issues).map((e) => e.place)).toEqual(['train-00001-of-00003.parquet: row 2 (row group 0)']);
  });

  it("a run record keeps the three files and their options: read again, the same examples", async () => {
    const split = shards();
    const options = opts({ maxRecords: 2000 });
    const first = await loadDataset(tok, 'x.parquet', asFiles(split), false, () => undefined, { options });
    const record = (await unpackDataset(recordPackage(asFiles(split), options, null)))!;
    expect(record.train.map((f) => f.name)).toEqual(names);
    expect(record.options.maxRecords).toBe(2000);
    // As the page restores it: the files as slices of the kept Blob, with the record's options.
    const files = record.train.map((f) => ({ name: f.name, data: f.blob }));
    const again = await loadDataset(tok, 'x.parquet', files, false, () => undefined, { options: record.options });
    expect(idsOf(again.prepared)).toHaveLength(2000);
    expect(idsOf(again.prepared)).toEqual(idsOf(first.prepared));
  });
});
