// Test-only: Parquet files written by implementations other than the reader's (hyparquet-writer,
// @dsnp/parquetjs), with the schemas a Hub dataset has: a `messages` list of structs, text columns
// with nulls, int64, several row groups, several codecs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress, init as initZstd } from '@bokuweb/zstd-wasm';
import parquet from '@dsnp/parquetjs';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';

export type Row = Record<string, unknown>;

/** A column of the test files: a string, an int64, a double, bytes, or a list of {role, content} ('turns') or {from, value} ('sharegpt') structs. */
export type ColumnKind = 'string' | 'int64' | 'double' | 'turns' | 'sharegpt' | 'binary';

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' } as const;

function schemaOf(columns: Record<string, ColumnKind>): SchemaElement[] {
  const out: SchemaElement[] = [{ name: 'root', num_children: Object.keys(columns).length }];
  for (const [name, kind] of Object.entries(columns)) {
    if (kind === 'string') out.push({ name, ...STRING });
    else if (kind === 'int64') out.push({ name, type: 'INT64', repetition_type: 'OPTIONAL' });
    else if (kind === 'double') out.push({ name, type: 'DOUBLE', repetition_type: 'OPTIONAL' });
    else if (kind === 'binary') out.push({ name, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' });
    else {
      const [a, b] = kind === 'turns' ? ['role', 'content'] : ['from', 'value'];
      out.push(
        { name, repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
        { name: a, ...STRING },
        { name: b, ...STRING },
      );
    }
  }
  return out;
}

// A real zstd encoder (the reference C library built to wasm): the files' zstd pages are
// entropy-coded as the Hub's are, so the reader's decoder (fzstd, in hyparquet-compressors) is
// tested against another implementation's output. Its wasm loads once, here.
await initZstd();
const zstd = (b: Uint8Array): Uint8Array => zstdCompress(b, 3);

export type HyparquetCodec = 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP' | 'ZSTD' | 'LZO';

/** A file written by hyparquet-writer (GZIP by node:zlib, ZSTD by zstd's wasm build, LZO as a made-up codec). */
export function writeHyparquet(
  rows: Row[],
  columns: Record<string, ColumnKind>,
  opts: { codec?: HyparquetCodec; rowGroupSize?: number; pageSize?: number } = {},
): Uint8Array {
  const compressors = { GZIP: (b: Uint8Array) => new Uint8Array(gzipSync(b)), ZSTD: zstd, LZO: (b: Uint8Array) => b };
  const buf = parquetWriteBuffer({
    columnData: Object.keys(columns).map((name) => ({ name, data: rows.map((r) => (r[name] === undefined ? null : r[name])) as never })),
    schema: schemaOf(columns) as never, // hyparquet-writer bundles its own hyparquet types
    codec: opts.codec ?? 'SNAPPY',
    compressors,
    rowGroupSize: opts.rowGroupSize ?? 1000,
    pageSize: opts.pageSize,
  });
  return new Uint8Array(buf);
}

export type ParquetjsCodec = 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP' | 'BROTLI';

/** A file written by @dsnp/parquetjs (a repeated group for a list of turns). */
export async function writeParquetjs(
  rows: Row[],
  columns: Record<string, ColumnKind>,
  opts: { codec?: ParquetjsCodec; rowGroupSize?: number } = {},
): Promise<Uint8Array> {
  const compression = opts.codec ?? 'GZIP';
  const fields: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(columns)) {
    if (kind === 'turns') fields[name] = { repeated: true, fields: { role: { type: 'UTF8', compression }, content: { type: 'UTF8', compression } } };
    else if (kind === 'sharegpt') fields[name] = { repeated: true, fields: { from: { type: 'UTF8', compression }, value: { type: 'UTF8', compression } } };
    else fields[name] = { type: kind === 'int64' ? 'INT64' : kind === 'double' ? 'DOUBLE' : kind === 'binary' ? 'BYTE_ARRAY' : 'UTF8', optional: true, compression };
  }
  const dir = mkdtempSync(join(tmpdir(), 'parquetjs-'));
  const path = join(dir, 'data.parquet');
  try {
    const w = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema(fields as never), path, { rowGroupSize: opts.rowGroupSize ?? 1000 });
    for (const r of rows) {
      const row: Row = {};
      for (const [k, v] of Object.entries(r)) if (v !== null && v !== undefined) row[k] = v;
      await w.appendRow(row);
    }
    await w.close();
    return new Uint8Array(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same rows as a .jsonl file (a null cell written as a missing key, as Parquet cannot tell them apart). */
export function jsonlOf(rows: Row[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined)), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))).join('\n') + '\n';
}

/** Alpaca rows, `input` null in every third, `id` an int64. */
export function alpacaRows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: BigInt(1000 + i),
    instruction: `Add ${i} and ${i + 1}.`,
    input: i % 3 === 0 ? null : `numbers: ${i}, ${i + 1}`,
    output: `The sum is ${2 * i + 1}.${i % 5 === 0 ? ' ünïcödé ✓' : ''}`,
  }));
}

export const ALPACA_COLUMNS: Record<string, ColumnKind> = { id: 'int64', instruction: 'string', input: 'string', output: 'string' };

/**
 * One small file per writer and codec (hyparquet-writer: snappy, uncompressed with small pages,
 * gzip, zstd; parquetjs: gzip, brotli), Alpaca rows and chats (a nested `messages` list),
 * several row groups each: what the slice test and the fuzz suite read.
 */
export async function sampleParquetFiles(): Promise<Uint8Array[]> {
  const turns = (i: number) => ({ messages: [{ role: 'user', content: `q ${i}` }, { role: 'assistant', content: `a ${i}` }] });
  const chats = Array.from({ length: 12 }, (_, i) => turns(i));
  return [
    writeHyparquet(alpacaRows(24), ALPACA_COLUMNS, { codec: 'SNAPPY', rowGroupSize: 10 }),
    writeHyparquet(alpacaRows(24), ALPACA_COLUMNS, { codec: 'UNCOMPRESSED', rowGroupSize: 24, pageSize: 256 }),
    writeHyparquet(alpacaRows(16), ALPACA_COLUMNS, { codec: 'GZIP', rowGroupSize: 8 }),
    writeHyparquet(alpacaRows(16), ALPACA_COLUMNS, { codec: 'ZSTD', rowGroupSize: 8 }),
    writeHyparquet(chats, { messages: 'turns' }, { codec: 'SNAPPY', rowGroupSize: 5, pageSize: 64 }),
    await writeParquetjs(alpacaRows(16), ALPACA_COLUMNS, { codec: 'GZIP', rowGroupSize: 6 }),
    await writeParquetjs(chats, { messages: 'turns' }, { codec: 'BROTLI', rowGroupSize: 5 }),
  ];
}
