// Hostile datasets: records over the size cap, floods of bad records, other encodings, and the
// cut before tokenization, which must not change what a run trains on.
import { describe, expect, it } from 'vitest';
import { formatIssue, formatIssues, MAX_LISTED_ISSUES } from './errors';
import { prepareDataset, type PreparedDataset, type PrepareOptions } from './pipeline';
import { MAX_RECORD_CHARS } from './source';
import { loadReference, loadTokenizerDir, referenceNames, refused, tokenizerDirFor } from './testdata/fixtures';
import { mulberry32 } from '../util/prng';

const tiny = loadTokenizerDir(tokenizerDirFor('tiny-qwen3'));

describe('records over the size cap', () => {
  const long = JSON.stringify({ text: 'x'.repeat(MAX_RECORD_CHARS) });
  const file = ['{"text": "first"}', long, '{"text": "third"}'].join('\n');

  it('a JSON Lines record over the cap is refused by line, without holding it', async () => {
    const e = await refused(prepareDataset(file, tiny, { fileName: 'd.jsonl' }));
    expect(e.issues.map(formatIssue)).toEqual([`line 2: longer than the ${MAX_RECORD_CHARS} characters a record may have`]);
    const ok = await prepareDataset(file, tiny, { fileName: 'd.jsonl', skipInvalid: true });
    expect([...ok.examples].map((x) => x.line)).toEqual([1, 3]);
  });

  it('a line with no line break at the end is refused the same way', async () => {
    const e = await refused(prepareDataset(`{"text": "first"}\n${long}`, tiny, { fileName: 'd.jsonl' }));
    expect(e.issues.map(formatIssue)).toEqual([`line 2: longer than the ${MAX_RECORD_CHARS} characters a record may have`]);
  });

  it('a JSON array element over the cap is refused by index', async () => {
    const arr = `[{"text": "a"},\n${long}]`;
    const e = await refused(prepareDataset(arr, tiny, { fileName: 'd.json' }));
    expect(e.message).toBe(`line 2, index 1: longer than the ${MAX_RECORD_CHARS} characters a record may have`);
  });

  it('a txt paragraph over the cap is refused by its first line', async () => {
    const para = `short\n\n${'y'.repeat(MAX_RECORD_CHARS / 2)}\n${'y'.repeat(MAX_RECORD_CHARS / 2)}\n\nlast`;
    const e = await refused(prepareDataset(para, tiny, { fileName: 'd.txt', txtMode: 'paragraph' }));
    expect(e.issues.map(formatIssue)).toEqual([`line 3: longer than the ${MAX_RECORD_CHARS} characters a record may have`]);
  });
});

describe('a flood of bad records', () => {
  it('a JSON array of records without known fields names each by index, listing 100 and counting the rest', async () => {
    const n = 20_000;
    const arr = `[${Array.from({ length: n }, () => '{"q":1}').join(',')}]`;
    const e = await refused(prepareDataset(arr, tiny, { fileName: 'd.json' }));
    expect(e.issueCount).toBe(n);
    expect(e.issues.length).toBe(MAX_LISTED_ISSUES);
    expect(formatIssue(e.issues[7])).toMatch(/^index 7 \(line 1\): no known fields/);
    const listed = formatIssues(e.issues, e.issueCount);
    expect(listed.length).toBe(MAX_LISTED_ISSUES + 1);
    expect(listed[MAX_LISTED_ISSUES]).toBe(`and ${n - MAX_LISTED_ISSUES} more`);
  });

  it('skipped records are counted in full and listed to the cap', async () => {
    const lines = ['{"text": "ok"}', ...Array.from({ length: 300 }, () => '{"q":1}')].join('\n');
    const ds = await prepareDataset(lines, tiny, { fileName: 'd.jsonl', skipInvalid: true });
    expect(ds.stats.skipped).toBe(300);
    expect(ds.skipped.length).toBe(MAX_LISTED_ISSUES);
  });
});

describe('other encodings', () => {
  const utf16 = (s: string, bom: boolean): Uint8Array => {
    const out = new Uint8Array((bom ? 2 : 0) + 2 * s.length);
    if (bom) out.set([0xff, 0xfe]);
    for (let i = 0; i < s.length; i++) out[(bom ? 2 : 0) + 2 * i] = s.charCodeAt(i);
    return out;
  };
  it.each([true, false])('UTF-16 (byte-order mark: %s) is named as UTF-16', async (bom) => {
    const e = await refused(prepareDataset(utf16('{"text": "hello"}\n', bom), tiny, { fileName: 'd.jsonl' }));
    expect(e.message).toBe('line 1: this file is UTF-16, not UTF-8; save it as UTF-8');
  });
});

/** Random text from the pieces tokenizers split on, `chars` long. */
function randomText(rand: () => number, chars: number): string {
  const parts = ['the ', 'cat', ' ', '  ', '\n', 'é', '中文', '12', '345', '!', "'s", '🎉', 'aaaa', '\t', 'Hello', ' world'];
  let s = '';
  while (s.length < chars) s += parts[Math.floor(rand() * parts.length)];
  return s.slice(0, chars);
}

const asArrays = (ds: PreparedDataset) => ({
  examples: [...ds.examples].map((e) => ({ line: e.line, ids: Array.from(e.inputIds), mask: Array.from(e.trainMask), truncated: e.truncated })),
  stats: ds.stats,
  warnings: ds.warnings,
});

describe('cutting long texts before tokenizing changes no prepared example', () => {
  it.each(referenceNames())('%s: the fixtures\' texts and long generated records, cut and whole', async (name) => {
    const tok = loadTokenizerDir(tokenizerDirFor(name));
    const rand = mulberry32(11);
    const ref = loadReference(name);
    const texts = ref.encode.map((e) => e.text).filter((t) => t.trim());
    const long = Array.from({ length: 12 }, (_, i) => randomText(rand, 200 + i * 400));
    const records = [
      ...[...texts, ...long].map((text) => ({ text })),
      ...long.map((t, i) => ({ prompt: t.slice(0, 4 * i), completion: t })),
      ...texts.map((t) => ({ prompt: 'Say:', completion: t.slice(0, 20) })),
      ...long.map((t, i) => ({ messages: [{ role: 'user', content: i % 2 ? t : 'hi' }, { role: 'assistant', content: t }] })),
      ...ref.chat.map((c) => ({ messages: c.messages })),
    ];
    let truncated = 0;
    for (const format of ['text', 'completion', 'messages'] as const) {
      const lines = records.filter((r) => (format === 'text' ? 'text' in r : format === 'completion' ? 'prompt' in r : 'messages' in r));
      const jsonl = lines.map((r) => JSON.stringify(r)).join('\n');
      for (const maxLength of [24, 64]) {
        const opts: PrepareOptions = { fileName: 'd.jsonl', format, maxLength, skipInvalid: true };
        // The same examples, or the same refusal.
        const run = (o: PrepareOptions) => prepareDataset(jsonl, tok, o).then(asArrays, (e: Error) => e.message);
        const cut = await run(opts);
        const whole = await run({ ...opts, cutBeforeTokenizing: false });
        expect(cut, `${format} ${maxLength}`).toEqual(whole);
        if (typeof cut !== 'string') truncated += cut.stats.truncated;
      }
    }
    expect(truncated).toBeGreaterThan(0);
  });
});
