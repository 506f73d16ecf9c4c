// Parquet files written by other implementations (hyparquet-writer, @dsnp/parquetjs) give exactly
// the examples (ids and masks) the same data gives as .jsonl through prepareDataset, and damaged
// files are refused with a ParquetError naming the file, row group and column.
import { describe, expect, it } from 'vitest';
import { loadReference, loadTokenizerDir, tokenizerDirFor } from '../testdata/fixtures';
import { prepareDataset, type PreparedDataset, type PrepareProgress } from '../pipeline';
import { preparePreferenceDataset } from '../preference';
import { DatasetError } from '../errors';
import { openRecordSource, type RecordFile } from './record-source';
import { ParquetError } from './parquet-error';
import { bytesRandomAccess, type RandomAccess } from './random-access';
import { ALPACA_COLUMNS, alpacaRows, jsonlOf, sampleParquetFiles, writeHyparquet, writeParquetjs, type HyparquetCodec, type ParquetjsCodec, type Row } from './parquet-testing';

const tok = loadTokenizerDir(tokenizerDirFor('tiny-llama'));

const same = (a: PreparedDataset, b: PreparedDataset): void => {
  expect(a.examples.length).toBeGreaterThan(0);
  expect([...a.examples].map((e) => [e.line, Array.from(e.inputIds), Array.from(e.trainMask)])).toEqual(
    [...b.examples].map((e) => [e.line, Array.from(e.inputIds), Array.from(e.trainMask)]),
  );
  expect({ ...a.stats, fileType: 'x' }).toEqual({ ...b.stats, fileType: 'x' });
};

const pq = (name: string, bytes: Uint8Array): RecordFile[] => [{ name, data: bytes }];

/** Conversations: the reference chats (Python's ids and masks) and more, some with a system turn. */
function chatRows(): Row[] {
  const ref = loadReference('tiny-llama').chat.map((c) => ({ messages: c.messages }));
  const more = Array.from({ length: 17 }, (_, i) => ({
    messages: [
      ...(i % 4 === 0 ? [{ role: 'system', content: 'Be brief.' }] : []),
      { role: 'user', content: `Question ${i}?` },
      { role: 'assistant', content: `Answer ${i}.` },
      ...(i % 3 === 0 ? [{ role: 'user', content: 'And then?' }, { role: 'assistant', content: 'Done.' }] : []),
    ],
  }));
  return [...ref, ...more];
}

describe('Parquet files as records', () => {
  it('a messages list of structs (hyparquet-writer, several row groups) gives the jsonl ids and masks, and the reference ids', async () => {
    const rows = chatRows();
    const bytes = writeHyparquet(rows, { messages: 'turns' }, { rowGroupSize: 4 });
    const fromParquet = await prepareDataset(pq('chat.parquet', bytes), tok, {});
    same(fromParquet, await prepareDataset(jsonlOf(rows), tok, { fileType: 'jsonl' }));
    expect(fromParquet.stats).toMatchObject({ fileType: 'parquet', format: 'messages', examples: rows.length });
    // The first rows are the reference chats: transformers' ids and assistant masks.
    const ref = loadReference('tiny-llama').chat;
    ref.forEach((c, i) => {
      expect(Array.from(fromParquet.examples.example(i).inputIds)).toEqual(c.ids);
      if (c.assistant_masks) expect(Array.from(fromParquet.examples.example(i).trainMask)).toEqual(c.assistant_masks);
    });
  });

  const codecs: Array<['hyparquet-writer', HyparquetCodec] | ['parquetjs', ParquetjsCodec]> = [
    ['hyparquet-writer', 'UNCOMPRESSED'],
    ['hyparquet-writer', 'SNAPPY'],
    ['hyparquet-writer', 'GZIP'],
    ['hyparquet-writer', 'ZSTD'],
    ['parquetjs', 'UNCOMPRESSED'],
    ['parquetjs', 'SNAPPY'],
    ['parquetjs', 'GZIP'],
    ['parquetjs', 'BROTLI'],
  ];
  it('zstd pages are compressed by zstd itself (entropy-coded, not stored blocks), and read back', async () => {
    const rows = alpacaRows(200);
    const plain = writeHyparquet(rows, ALPACA_COLUMNS, { codec: 'UNCOMPRESSED', rowGroupSize: 200 });
    const zstd = writeHyparquet(rows, ALPACA_COLUMNS, { codec: 'ZSTD', rowGroupSize: 200 });
    expect(zstd.length).toBeLessThan(plain.length * 0.6);
    same(await prepareDataset(pq('z.parquet', zstd), tok, {}), await prepareDataset(pq('p.parquet', plain), tok, {}));
  });

  for (const [writer, codec] of codecs) {
    it(`alpaca with nulls and int64, ${writer} ${codec}, row groups of 7: the jsonl examples`, async () => {
      const rows = alpacaRows(30);
      const bytes = writer === 'parquetjs' ? await writeParquetjs(rows, ALPACA_COLUMNS, { codec, rowGroupSize: 7 }) : writeHyparquet(rows, ALPACA_COLUMNS, { codec: codec as HyparquetCodec, rowGroupSize: 7 });
      const src = openRecordSource(pq('alpaca.parquet', bytes));
      expect(await src.totalRows()).toBe(30);
      const cols = await src.columns();
      expect(cols.map((c) => [c.name, c.type])).toEqual([['id', 'int64'], ['instruction', 'string'], ['input', 'string'], ['output', 'string']]);
      const recs = [];
      for await (const r of src.records()) recs.push(r);
      expect(recs[0]).toEqual({ line: 1, row: 0, rowGroup: 0, file: 'alpaca.parquet', value: { id: 1000, instruction: 'Add 0 and 1.', output: 'The sum is 1. ünïcödé ✓' } });
      expect(recs[29]).toMatchObject({ row: 29, rowGroup: 4 });
      same(await prepareDataset(pq('alpaca.parquet', bytes), tok, {}), await prepareDataset(jsonlOf(rows), tok, { fileType: 'jsonl' }));
    });
  }

  it('parquetjs: a repeated group of turns gives the jsonl conversations', async () => {
    const rows = chatRows();
    const bytes = await writeParquetjs(rows, { messages: 'turns' }, { codec: 'BROTLI', rowGroupSize: 5 });
    same(await prepareDataset(pq('chat.parquet', bytes), tok, {}), await prepareDataset(jsonlOf(rows), tok, { fileType: 'jsonl' }));
  });

  it('a row group with an offset index is read in slices of its pages, never the whole chunk at once, with the same records', async () => {
    const rows = alpacaRows(3000);
    const bytes = writeHyparquet(rows, ALPACA_COLUMNS, { codec: 'UNCOMPRESSED', rowGroupSize: 3000, pageSize: 4096 });
    let largest = 0;
    const counting: RandomAccess = {
      byteLength: bytes.length,
      slice(a, b) {
        largest = Math.max(largest, (b ?? bytes.length) - a);
        return bytesRandomAccess(bytes).slice(a, b);
      },
    };
    const sliced = await prepareDataset(openRecordSource([{ name: 'big.parquet', data: counting }], { sliceBytes: 10_000 }), tok, {});
    expect(largest).toBeLessThan(bytes.length / 4);
    same(sliced, await prepareDataset(jsonlOf(rows), tok, { fileType: 'jsonl' }));
    // By default (slices of 4 MiB) this small row group is read at once: the same records.
    same(await prepareDataset(pq('big.parquet', bytes), tok, {}), sliced);
  });

  it('read in slices of one row (through the offset index where there is one), every file gives the records read whole', async () => {
    const files = await sampleParquetFiles();
    for (const f of files) {
      const whole: unknown[] = []; const sliced: unknown[] = [];
      for await (const r of openRecordSource([{ name: 'x.parquet', data: f }]).records()) whole.push(r);
      for await (const r of openRecordSource([{ name: 'x.parquet', data: f }], { sliceBytes: 1 }).records()) sliced.push(r);
      expect(sliced).toEqual(whole);
    }
  });

  it('several files are one source, in order; maxRecords stops early; progress counts rows of the total', async () => {
    const rows = alpacaRows(40);
    const files: RecordFile[] = [0, 1, 2].map((k) => ({ name: `train-0000${k}.parquet`, data: writeHyparquet(rows.slice(k * 15, (k + 1) * 15), ALPACA_COLUMNS, { rowGroupSize: 6 }) }));
    const progress: PrepareProgress[] = [];
    const ds = await prepareDataset(files, tok, { onProgress: (p) => progress.push(p) });
    const one = await prepareDataset(jsonlOf(rows), tok, { fileType: 'jsonl' });
    expect([...ds.examples].map((e) => Array.from(e.inputIds))).toEqual([...one.examples].map((e) => Array.from(e.inputIds)));
    expect([...ds.examples].map((e) => e.line)).toEqual([...Array(15).keys(), ...Array(15).keys(), ...Array(10).keys()].map((i) => i + 1));
    expect(progress.at(-1)).toMatchObject({ rows: 40, totalRows: 40, examples: 40 });
    const limited = await prepareDataset(files, tok, { maxRecords: 20, onProgress: (p) => progress.push(p) });
    expect(limited.examples.length).toBe(20);
    expect(progress.at(-1)).toMatchObject({ rows: 20, totalRows: 20 });
  });

  it('preference pairs from Parquet are the jsonl pairs', async () => {
    const rows = Array.from({ length: 9 }, (_, i) => ({ prompt: `Say ${i}.`, chosen: ` ${i}`, rejected: ` no ${i}` }));
    const cols = { prompt: 'string', chosen: 'string', rejected: 'string' } as const;
    const a = await preparePreferenceDataset(pq('pairs.parquet', writeHyparquet(rows, cols, { rowGroupSize: 4 })), tok, {});
    const b = await preparePreferenceDataset(jsonlOf(rows), tok, { fileType: 'jsonl' });
    expect(a.pairs.length).toBe(9);
    expect(a.pairs).toEqual(b.pairs);
  });

  // The shapes of two datasets tutorials train on, with their extra columns (ids, sources, scores).
  it("HuggingFaceH4/ultrafeedback_binarized's shape (prompt string, chosen / rejected full conversations, messages, scores): the jsonl pairs, from both writers", async () => {
    const conv = (q: string, a: string) => [{ role: 'user', content: q }, { role: 'assistant', content: a }];
    const rows = Array.from({ length: 11 }, (_, i) => ({
      prompt: `What is ${i} times ${i}?`,
      prompt_id: `id-${i}`,
      chosen: conv(`What is ${i} times ${i}?`, `It is ${i * i}.`),
      rejected: conv(`What is ${i} times ${i}?`, `Maybe ${i + i}.`),
      messages: conv(`What is ${i} times ${i}?`, `It is ${i * i}.`),
      score_chosen: 8.5,
      score_rejected: i % 2 ? 3 : null,
    }));
    const cols = { prompt: 'string', prompt_id: 'string', chosen: 'turns', rejected: 'turns', messages: 'turns', score_chosen: 'double', score_rejected: 'double' } as const;
    const want = await preparePreferenceDataset(jsonlOf(rows), tok, { fileType: 'jsonl' });
    expect(want.stats).toMatchObject({ shape: 'implicit', pairs: 11 });
    for (const bytes of [writeHyparquet(rows, cols, { rowGroupSize: 4 }), await writeParquetjs(rows, cols, { codec: 'SNAPPY', rowGroupSize: 4 })]) {
      const got = await preparePreferenceDataset(pq('uf.parquet', bytes), tok, {});
      expect(got.pairs).toEqual(want.pairs);
      expect(got.stats).toMatchObject({ shape: 'implicit', pairs: 11 });
    }
  });

  it("mlabonne/FineTome-100k's shape (conversations of from / value, source, score): the jsonl sharegpt examples, from both writers", async () => {
    const rows = Array.from({ length: 13 }, (_, i) => ({
      conversations: [
        { from: 'human', value: `Explain ${i}.` },
        { from: 'gpt', value: `${i} is a number${i % 3 ? '' : ' ✓'}.` },
      ],
      source: i % 2 ? 'infini-instruct-top-500k' : null,
      score: 4.5 + i / 100,
    }));
    const cols = { conversations: 'sharegpt', source: 'string', score: 'double' } as const;
    const want = await prepareDataset(jsonlOf(rows), tok, { fileType: 'jsonl' });
    expect(want.stats).toMatchObject({ format: 'sharegpt', examples: 13 });
    for (const bytes of [writeHyparquet(rows, cols, { rowGroupSize: 5 }), await writeParquetjs(rows, cols, { codec: 'GZIP', rowGroupSize: 5 })]) {
      const got = await prepareDataset(pq('ft.parquet', bytes), tok, {});
      same(got, want);
      expect(got.stats).toMatchObject({ fileType: 'parquet', format: 'sharegpt', examples: 13 });
    }
  });

  it('a bad record names its row, row group and file; binary columns are left out', async () => {
    const rows: Row[] = alpacaRows(10).map((r, i) => ({ ...r, output: i === 8 ? null : r.output, blob: new Uint8Array([1, 2, i]) }));
    const bytes = writeHyparquet(rows, { ...ALPACA_COLUMNS, blob: 'binary' }, { rowGroupSize: 4 });
    const src = openRecordSource(pq('a.parquet', bytes));
    expect((await src.columns()).find((c) => c.name === 'blob')).toEqual({ name: 'blob', type: 'binary', binary: true });
    for await (const r of src.records()) expect(Object.keys('value' in r ? (r.value as object) : {})).not.toContain('blob');
    const e = await prepareDataset(pq('a.parquet', bytes), tok, {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as DatasetError).issues).toEqual([{ line: 9, row: 8, rowGroup: 2, file: 'a.parquet', reason: "missing field 'output'" }]);
  });
});

describe('Parquet errors name the file, row group and column', () => {
  const bytes = writeHyparquet(alpacaRows(20), ALPACA_COLUMNS, { rowGroupSize: 8 });
  const refusal = async (files: RecordFile[], opts = {}): Promise<ParquetError> => {
    const e = await prepareDataset(files, tok, opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ParquetError);
    return e as ParquetError;
  };

  it('a truncated file', async () => {
    for (const cut of [bytes.length - 1, bytes.length - 100, 20, 5]) {
      const e = await refusal(pq('cut.parquet', bytes.subarray(0, cut)));
      expect(e.file).toBe('cut.parquet');
      expect(e.message).toMatch(/^cut\.parquet: .*truncated/);
    }
    // The footer kept, data cut out of the middle: the column chunks point past the data.
    const holed = new Uint8Array([...bytes.subarray(0, 200), ...bytes.subarray(bytes.length - 8 - new DataView(bytes.buffer).getUint32(bytes.length - 8, true) - 8)]);
    const e = await refusal(pq('holed.parquet', holed));
    expect(e).toMatchObject({ file: 'holed.parquet' });
    expect(e.rowGroup).toBeDefined();
    expect(e.column).toBeDefined();
    expect(e.message).toMatch(/truncated or damaged|undecodable/);
  });

  it('an unsupported codec', async () => {
    const e = await refusal(pq('lzo.parquet', writeHyparquet(alpacaRows(5), ALPACA_COLUMNS, { codec: 'LZO' })));
    expect(e).toMatchObject({ file: 'lzo.parquet', rowGroup: 0, column: 'id' });
    expect(e.message).toMatch(/^lzo\.parquet, row group 0, column 'id': unsupported codec LZO/);
  });

  it('a mapped column that does not exist, or is binary', async () => {
    const e = await refusal(pq('a.parquet', bytes), { mapping: { prompt: 'question', completion: 'output' } });
    expect(e).toMatchObject({ file: 'a.parquet', column: 'question' });
    expect(e.message).toMatch(/no such column for 'prompt' \(the file has id, instruction, input, output\)/);
    const bin = writeHyparquet([{ b: new Uint8Array([1]), t: 'x' }], { b: 'binary', t: 'string' });
    expect(await refusal(pq('b.parquet', bin), { mapping: { text: 'b' } })).toMatchObject({ column: 'b' });
  });

  it('an undecodable column chunk', async () => {
    const snappy = writeHyparquet(alpacaRows(50).map((r) => ({ ...r, output: String(r.output).repeat(20) })), ALPACA_COLUMNS, { codec: 'SNAPPY' });
    const damaged = snappy.slice();
    const at = snappy.length - 8 - new DataView(snappy.buffer).getUint32(snappy.length - 8, true);
    for (let i = at - 600; i < at - 300; i++) damaged[i] ^= 0x5a; // inside the last column's data
    const e = await refusal(pq('bad.parquet', damaged));
    expect(e).toMatchObject({ file: 'bad.parquet', rowGroup: 0, column: 'output' });
    expect(e.message).toMatch(/undecodable/);
  });

  it('an integer beyond 2^53 in a column it reads names its cell; a column no format reads is never decoded', async () => {
    const big = writeHyparquet([{ id: 2n ** 60n, instruction: 'a', output: 'b' }], ALPACA_COLUMNS);
    const e = await refusal(pq('big.parquet', big), { mapping: { input: 'id' } });
    expect(e).toMatchObject({ file: 'big.parquet', row: 0, rowGroup: 0, column: 'id' });
    expect(e.message).toMatch(/beyond 2\^53/);
    // Unmapped, `id` is no field of any format: the pipeline leaves it unread, and the row trains.
    const ds = await prepareDataset(pq('big.parquet', big), tok, {});
    expect([ds.stats.format, ds.examples.length]).toEqual(['alpaca', 1]);
  });
});
