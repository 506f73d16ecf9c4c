import { describe, expect, it } from 'vitest';
import { DatasetError, truncateExample } from '../data';
import { loadTokenizerDir } from '../data/testdata/fixtures';
import { DEFAULT_READ_OPTIONS, packDataset, unpackDataset, type DatasetReadOptions } from '../util/dataset-package';
import { keepLength, loadDataset, trainValidationSplit, validationFileExamples, type DetailedSummary, type LoadedData } from './dataset';
import { writeHyparquet } from '../data/records/parquet-testing';
import type { PrepareProgress } from '../data';

const tok = loadTokenizerDir('public/demo');
const enc = new TextEncoder();
const chat = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
const CHAT = Array.from({ length: 10 }, (_, i) => chat(`What is ${i} plus ${i}?`, `${i} plus ${i} is ${2 * i}.`)).join('\n');

function opts(p: Partial<DatasetReadOptions>): DatasetReadOptions {
  return { ...DEFAULT_READ_OPTIONS, ...p, validation: { ...DEFAULT_READ_OPTIONS.validation, ...p.validation } };
}

/** Loads a plain file, or a package's file with its options and validation file (as the handler passes them). */
async function load(name: string, bytes: ArrayBuffer | Uint8Array, skipInvalid = false) {
  const raw = new Uint8Array(bytes as ArrayBuffer);
  const pkg = unpackDataset(raw);
  const read = pkg ? { options: pkg.options, validation: pkg.validation } : {};
  const { prepared, summary } = await loadDataset(tok, name, pkg?.train.bytes ?? raw, skipInvalid, () => undefined, read);
  return { prepared, summary: summary as DetailedSummary };
}

describe('dataset package', () => {
  it('is the plain file when nothing needs saying', () => {
    const file = enc.encode(CHAT);
    const out = new Uint8Array(packDataset({ options: DEFAULT_READ_OPTIONS, train: { name: 'a.jsonl', bytes: file }, validation: null }));
    expect(out).toEqual(file);
    expect(unpackDataset(out)).toBeNull();
  });

  it('round-trips options, the file and a validation file', () => {
    const o = opts({ format: 'completion', mapping: 'prompt=q,completion=a', trainOn: 'all', txtMode: 'paragraph', validation: { mode: 'file', fraction: 0.05 } });
    const buf = packDataset({ options: o, train: { name: 'ü.csv', bytes: enc.encode('q,a\n1,2\n') }, validation: { name: 'v.csv', bytes: enc.encode('q,a\n3,4\n') } });
    const p = unpackDataset(new Uint8Array(buf))!;
    expect(p.options).toEqual(o);
    expect(p.train.name).toBe('ü.csv');
    expect(new TextDecoder().decode(p.train.bytes)).toBe('q,a\n1,2\n');
    expect(new TextDecoder().decode(p.validation!.bytes)).toBe('q,a\n3,4\n');
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
    const { summary } = await load('chat.jsonl', packDataset({ options: opts({ trainOn: 'all' }), train: { name: 'chat.jsonl', bytes: enc.encode(CHAT) }, validation: null }));
    expect(summary.trainedTokens).toBe(summary.tokens);
    expect(summary.preview[0].every((t) => t.trained)).toBe(true);
  });

  it('format override and column mapping on a CSV', async () => {
    const csv = 'question,answer\nWhat is 1?,One.\nWhat is 2?,Two.\n';
    // Without a mapping the columns are unknown: refused, every line named.
    await expect(load('qa.csv', enc.encode(csv))).rejects.toThrow(DatasetError);
    const { summary } = await load(
      'qa.csv',
      packDataset({ options: opts({ format: 'completion', mapping: 'prompt=question, completion=answer' }), train: { name: 'qa.csv', bytes: enc.encode(csv) }, validation: null }),
    );
    expect(summary.format).toBe('completion');
    expect(summary.examples).toBe(2);
    expect(summary.details.previewLines).toEqual([2, 3]);
  });

  it('a bad column mapping is a clear DatasetError', async () => {
    const p = packDataset({ options: opts({ mapping: 'answer' }), train: { name: 'a.jsonl', bytes: enc.encode(CHAT) }, validation: null });
    await expect(load('a.jsonl', p)).rejects.toThrow(/^Column mapping: .*expected field=column/);
  });

  it('text mode: lines or paragraphs', async () => {
    const txt = enc.encode('one line\nanother line\n\nthird line\n');
    const lines = await load('t.txt', txt);
    expect(lines.summary.examples).toBe(3);
    const paras = await load('t.txt', packDataset({ options: opts({ txtMode: 'paragraph' }), train: { name: 't.txt', bytes: txt }, validation: null }));
    expect(paras.summary.examples).toBe(2);
  });

  it('a validation file: counted, prepared with the same options, and used for the split', async () => {
    const val = Array.from({ length: 3 }, (_, i) => chat(`Held out ${i}?`, `Yes ${i}.`)).join('\n');
    const buf = packDataset({ options: opts({ validation: { mode: 'file', fraction: 0.1 } }), train: { name: 'chat.jsonl', bytes: enc.encode(CHAT) }, validation: { name: 'val.jsonl', bytes: enc.encode(val) } });
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

  it('a bad validation file is refused by name, with its lines', async () => {
    const buf = packDataset({ options: DEFAULT_READ_OPTIONS, train: { name: 'chat.jsonl', bytes: enc.encode(CHAT) }, validation: { name: 'val.jsonl', bytes: enc.encode(`${chat('a', 'b')}\n{oops\n`) } });
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
    expect(validation).toEqual([]);
    expect(train.map((p) => ('chosen' in p ? [Array.from(p.chosen.inputIds), Array.from(p.chosen.trainMask), Array.from(p.rejected.inputIds)] : null))).toEqual(
      direct.pairs.map((p) => [Array.from(p.chosen.inputIds), Array.from(p.chosen.trainMask), Array.from(p.rejected.inputIds)]),
    );
    expect(() => trainValidationSplit(prepared, 12, 0, 0, 12)).toThrow(/Max prompt length \(12\) must be below Max length \(12\)/);
  });

  it('holds out pairs for validation, and takes a validation file of pairs', async () => {
    const { prepared } = await load('p.jsonl', enc.encode(PAIRS));
    const split = trainValidationSplit(prepared, 64, 2, 3);
    expect([split.train.length, split.validation.length]).toEqual([8, 2]);
    expect(split.validation.every((p) => 'chosen' in p)).toBe(true);
    const pkg = packDataset({ options: opts({ validation: { mode: 'file', fraction: 0.1 } }), train: { name: 'p.jsonl', bytes: enc.encode(PAIRS) }, validation: { name: 'v.jsonl', bytes: enc.encode(pair(20)) } });
    const withFile = await load('p.jsonl', pkg);
    expect(withFile.summary.details.validation?.examples).toBe(1);
    expect(trainValidationSplit(withFile.prepared, 64, 0, 0).validation.length).toBe(1);
    const sft = packDataset({ options: opts({ validation: { mode: 'file', fraction: 0.1 } }), train: { name: 'p.jsonl', bytes: enc.encode(PAIRS) }, validation: { name: 'v.jsonl', bytes: enc.encode(CHAT) } });
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

describe('a .parquet file from the page', () => {
  it('is read from its Blob by byte ranges, gives the jsonl summary, and reports rows of the total', async () => {
    const rows = CHAT.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const blob = new Blob([writeHyparquet(rows, { messages: 'turns' }, { rowGroupSize: 3 }) as Uint8Array<ArrayBuffer>]);
    let whole = 0;
    // The Blob is never read whole: arrayBuffer() of the Blob itself is not called.
    const spy = new Proxy(blob, {
      get(t, k) {
        if (k === 'arrayBuffer') whole++;
        const v = Reflect.get(t, k, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const progress: PrepareProgress[] = [];
    const fromParquet = await loadDataset(tok, 'chat.parquet', spy as Blob, false, (p) => progress.push(p));
    const fromJsonl = await load('chat.jsonl', enc.encode(CHAT));
    expect(whole).toBe(0);
    const ids = (d: LoadedData) => ('examples' in d ? d.examples.map((e) => Array.from(e.inputIds)) : []);
    expect(ids(fromJsonl.prepared).length).toBe(10);
    expect(ids(fromParquet.prepared)).toEqual(ids(fromJsonl.prepared));
    expect(fromParquet.summary.details.fileType).toBe('parquet');
    expect(progress.at(-1)).toMatchObject({ rows: 10, totalRows: 10 });
  });
});
