import { describe, expect, it } from 'vitest';
import { fileTypeFromName, parseRecords, type RawRecord, type TextFileType, type TxtMode } from './parse';
import { readLines, type ByteSource } from './source';
import { refused } from './testdata/fixtures';

async function collect(src: ByteSource, type: TextFileType, txtMode?: TxtMode): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of parseRecords(src, type, { txtMode })) out.push(r);
  return out;
}

/** The same bytes split into chunks of `size` bytes (cutting through multi-byte characters). */
function chunked(text: string, size: number): Uint8Array[] {
  const b = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.slice(i, i + size));
  return out;
}

describe('readLines', () => {
  it('numbers lines, drops CR and the BOM, keeps a last line without newline', async () => {
    const lines = [];
    for await (const l of readLines('\uFEFFa\r\nb\n\nc')) lines.push(l);
    expect(lines).toEqual([
      { line: 1, text: 'a' },
      { line: 2, text: 'b' },
      { line: 3, text: '' },
      { line: 4, text: 'c' },
    ]);
  });

  it('gives the same lines for any chunking, through multi-byte characters', async () => {
    const text = 'héllo 日本語\n🤖🚀 done\r\nlast é';
    const expected = [];
    for await (const l of readLines(text)) expected.push(l);
    for (const size of [1, 2, 3, 5, 7]) {
      const got = [];
      for await (const l of readLines(chunked(text, size))) got.push(l);
      expect(got).toEqual(expected);
    }
  });

  it('reads a web ReadableStream', async () => {
    const parts = chunked('x\ny\n', 1);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(p);
        c.close();
      },
    });
    const got = [];
    for await (const l of readLines(stream)) got.push(l.text);
    expect(got).toEqual(['x', 'y']);
  });

  it('refuses a binary file (NUL byte) with its line', async () => {
    const bytes = new Uint8Array([0x61, 0x0a, 0x62, 0x00, 0x63]);
    const e = await refused(collect(bytes, 'jsonl'));
    expect(e.message).toMatch(/line 2: NUL byte.*binary/);
  });

  it('refuses invalid UTF-8', async () => {
    const bytes = new Uint8Array([0x7b, 0x7d, 0x0a, 0xff, 0xfe, 0x41]);
    const e = await refused(collect(bytes, 'jsonl'));
    expect(e.message).toMatch(/line 2: invalid UTF-8/);
  });
});

describe('file types', () => {
  it('from extensions', () => {
    expect(fileTypeFromName('a/b/data.JSONL')).toBe('jsonl');
    expect(fileTypeFromName('x.json')).toBe('json');
    expect(fileTypeFromName('x.csv')).toBe('csv');
    expect(fileTypeFromName('x.tsv')).toBe('tsv');
    expect(fileTypeFromName('x.txt')).toBe('txt');
    expect(fileTypeFromName('x.Parquet')).toBe('parquet');
    expect(() => fileTypeFromName('x.arrow')).toThrow(/unsupported file type '.arrow'.*Parquet or JSONL/);
  });
});

describe('JSONL', () => {
  it('yields values with line numbers, skips blank lines, reports bad JSON', async () => {
    const recs = await collect('{"a":1}\n\n  \nnope\n[1]\n', 'jsonl');
    expect(recs[0]).toEqual({ line: 1, value: { a: 1 } });
    expect(recs[1]).toMatchObject({ line: 4, error: expect.stringMatching(/^invalid JSON/) });
    expect(recs[2]).toEqual({ line: 5, value: [1] });
    expect(recs.length).toBe(3);
  });
});

describe('JSON array', () => {
  const text = [
    '[',
    '  {"text": "a ] } [ { \\" tricky"},',
    '  {',
    '    "text": "multi-line"',
    '  },',
    '  {"text": broken},',
    '  {"nested": {"x": [1, 2, {"y": "]"}]}},',
    '  "bare string", 42',
    ']',
    '',
  ].join('\n');

  it('splits elements, streaming, with the line each starts on', async () => {
    for (const size of [1, 4, 1000]) {
      const recs = await collect(chunked(text, size), 'json');
      expect(recs.length).toBe(6);
      expect(recs[0]).toEqual({ line: 2, index: 0, value: { text: 'a ] } [ { " tricky' } });
      expect(recs[1]).toEqual({ line: 3, index: 1, value: { text: 'multi-line' } });
      expect(recs[2]).toMatchObject({ line: 6, index: 2, error: expect.stringMatching(/^invalid JSON/) });
      expect(recs[3]).toEqual({ line: 7, index: 3, value: { nested: { x: [1, 2, { y: ']' }] } } });
      expect(recs[4]).toEqual({ line: 8, index: 4, value: 'bare string' });
      expect(recs[5]).toEqual({ line: 8, index: 5, value: 42 });
    }
  });

  it('reads a JSON-lines file saved as .json', async () => {
    const recs = await collect('{"text":"a"}\n{"text":"b"}\n', 'json');
    expect(recs).toEqual([
      { line: 1, value: { text: 'a' } },
      { line: 2, value: { text: 'b' } },
    ]);
  });

  it('reports an unclosed array', async () => {
    const e = await refused(collect('[{"a":1},\n{"a":2}\n', 'json'));
    expect(e.message).toMatch(/not closed/);
  });

  it('an empty array has no records', async () => {
    expect(await collect('[]', 'json')).toEqual([]);
  });
});

describe('CSV / TSV', () => {
  it('parses RFC 4180 quoting, with quoted newlines and the start line of each row', async () => {
    const csv = 'prompt,completion\r\n"a, b","say ""hi"""\r\n"multi\r\nline",x\r\n\r\nplain,y\r\nonly-one\r\n';
    for (const size of [1, 3, 1000]) {
      const recs = await collect(chunked(csv, size), 'csv');
      expect(recs).toEqual([
        { line: 2, value: { prompt: 'a, b', completion: 'say "hi"' } },
        { line: 3, value: { prompt: 'multi\nline', completion: 'x' } },
        { line: 6, value: { prompt: 'plain', completion: 'y' } },
        { line: 7, error: 'expected 2 fields (as in the header), found 1' },
      ]);
    }
  });

  it('reports a stray quote and an unterminated quoted field', async () => {
    const recs = await collect('text\nab"c\n"open\nmore', 'csv');
    expect(recs[0]).toMatchObject({ line: 2, error: expect.stringMatching(/quote/) });
    expect(recs[1]).toMatchObject({ line: 3, error: expect.stringMatching(/unterminated/) });
  });

  it('parses TSV', async () => {
    const recs = await collect('instruction\tinput\toutput\nDo it\t\tdone\n"a\tb"\tc\td\n', 'tsv');
    expect(recs).toEqual([
      { line: 2, value: { instruction: 'Do it', input: '', output: 'done' } },
      { line: 3, value: { instruction: 'a\tb', input: 'c', output: 'd' } },
    ]);
  });

  it('refuses a header with duplicate columns', async () => {
    const e = await refused(collect('a,a\n1,2\n', 'csv'));
    expect(e.message).toMatch(/line 1: .*repeats the column 'a'/);
  });
});

describe('TXT', () => {
  const txt = 'first line\nsecond line\n\n\nthird\n  \nfourth\nfifth\n';
  it('line mode: one example per non-blank line', async () => {
    const recs = await collect(txt, 'txt');
    expect(recs.map((r) => ('value' in r ? [r.line, (r.value as { text: string }).text] : null))).toEqual([
      [1, 'first line'],
      [2, 'second line'],
      [5, 'third'],
      [7, 'fourth'],
      [8, 'fifth'],
    ]);
  });
  it('paragraph mode: blank-line separated blocks', async () => {
    const recs = await collect(txt, 'txt', 'paragraph');
    expect(recs).toEqual([
      { line: 1, value: { text: 'first line\nsecond line' } },
      { line: 5, value: { text: 'third' } },
      { line: 7, value: { text: 'fourth\nfifth' } },
    ]);
  });
});
