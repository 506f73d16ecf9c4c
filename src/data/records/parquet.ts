// Parquet files as records, with hyparquet (+ hyparquet-compressors for gzip, zstd, brotli, lz4),
// read row group by row group through byte ranges: the file is never held whole. A row group whose
// columns all have an offset index is read in slices of about SLICE_BYTES of decoded data (only
// the pages a slice needs are fetched); one without is read one row group at a time.
//
// The file is untrusted: the footer, every column chunk's byte range, codec and row counts are
// checked before hyparquet sees them, decompressors refuse outputs over MAX_PAGE_BYTES, and every
// failure (hyparquet throws plain Errors, RangeErrors, TypeErrors on damaged files) becomes a
// ParquetError naming the file, the row group and, where it can be found, the column.
import { parquetMetadata, parquetReadObjects, parquetSchema, type FileMetaData } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { compressors as codecs } from 'hyparquet-compressors';
import type { ColumnMapping } from '../formats';
import type { RawRecord } from '../parse';
import { ParquetError } from './parquet-error';
import { CellError, describeColumns, jsonCell, type ColumnInfo } from './parquet-values';
import type { RandomAccess } from './random-access';

/** Largest footer (file metadata) read. */
export const MAX_METADATA_BYTES = 64 << 20;
/** Largest decompressed page. */
export const MAX_PAGE_BYTES = 256 << 20;
/** Most rows a dataset may have (its prepared tokens are kept in memory). */
export const MAX_ROWS = 2 ** 31;
/** Decoded bytes read at once from a row group that has an offset index. */
export const SLICE_BYTES = 4 << 20;

const SUPPORTED_CODECS = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI', 'ZSTD', 'LZ4', 'LZ4_RAW'] as const;

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

/** The decompressors, each refusing an output over MAX_PAGE_BYTES before allocating it. */
const COMPRESSORS: Record<string, Decompress> = Object.fromEntries(
  Object.entries(codecs as Record<string, Decompress>).map(([codec, f]) => [
    codec,
    (input: Uint8Array, outputLength: number): Uint8Array => {
      if (!(outputLength >= 0 && outputLength <= MAX_PAGE_BYTES)) {
        throw new Error(`a ${codec} page claims ${outputLength} decompressed bytes (at most ${MAX_PAGE_BYTES})`);
      }
      const out = f(input, outputLength);
      if (out.length !== outputLength) throw new Error(`a ${codec} page decompressed to ${out.length} bytes, not the ${outputLength} its header says`);
      return out;
    },
  ]),
);

export interface ParquetFile {
  name: string;
  metadata: FileMetaData;
  columns: ColumnInfo[];
  /** Rows of each row group. */
  groupRows: number[];
  totalRows: number;
}

const text = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 200);

async function readRange(name: string, file: RandomAccess, start: number, end: number): Promise<ArrayBuffer> {
  if (start < 0 || end > file.byteLength || start > end) throw new ParquetError({ file: name }, `the file is truncated: bytes ${start}-${end} are past its ${file.byteLength} bytes`);
  try {
    return await file.slice(start, end);
  } catch (e) {
    throw new ParquetError({ file: name }, `could not be read (${text(e)})`);
  }
}

/** Reads and checks a Parquet file's footer: the schema, row groups, byte ranges and codecs. */
export async function openParquet(name: string, file: RandomAccess, opts: { mapping?: ColumnMapping } = {}): Promise<ParquetFile> {
  const size = file.byteLength;
  if (!(Number.isSafeInteger(size) && size >= 12)) throw new ParquetError({ file: name }, `not a Parquet file: ${size} bytes is too short (truncated?)`);
  const tail = new DataView(await readRange(name, file, size - 8, size));
  if (tail.getUint32(4, true) !== 0x31524150) {
    throw new ParquetError({ file: name }, 'the file is truncated or not Parquet: it does not end with the PAR1 marker');
  }
  const metaLength = tail.getUint32(0, true);
  if (metaLength + 12 > size) throw new ParquetError({ file: name }, `the file is truncated: its metadata claims ${metaLength} bytes, more than the file holds`);
  if (metaLength > MAX_METADATA_BYTES) throw new ParquetError({ file: name }, `its metadata claims ${metaLength} bytes (at most ${MAX_METADATA_BYTES})`);
  const footer = await readRange(name, file, size - 8 - metaLength, size);
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(footer);
    if (!Array.isArray(metadata.row_groups) || !Array.isArray(metadata.schema)) throw new Error('no row groups or schema');
  } catch (e) {
    throw new ParquetError({ file: name }, `undecodable metadata (${text(e)})`);
  }
  let columns: ColumnInfo[];
  try {
    columns = describeColumns(parquetSchema(metadata));
  } catch (e) {
    throw new ParquetError({ file: name }, `undecodable schema (${text(e)})`);
  }
  const dataEnd = size - 8 - metaLength;
  const groupRows: number[] = [];
  let totalRows = 0;
  try {
    checkGroups();
  } catch (e) {
    if (e instanceof ParquetError) throw e;
    throw new ParquetError({ file: name }, `undecodable metadata (${text(e)})`);
  }
  if (totalRows > MAX_ROWS) throw new ParquetError({ file: name }, `has ${totalRows} rows (at most ${MAX_ROWS})`);
  if (opts.mapping) checkMappedColumns(name, columns, opts.mapping);
  return { name, metadata, columns, groupRows, totalRows };

  function checkGroups(): void {
  metadata.row_groups.forEach((g, rowGroup) => {
    const rows = Number(g.num_rows);
    if (!(Number.isSafeInteger(rows) && rows >= 0)) throw new ParquetError({ file: name, rowGroup }, `a row count of ${g.num_rows}`);
    let bytes = 0;
    if (!Array.isArray(g.columns)) throw new ParquetError({ file: name, rowGroup }, 'a row group without columns');
    for (const chunk of g.columns) {
      const m = chunk.meta_data;
      const path = m?.path_in_schema;
      if (!Array.isArray(path) || !path.length || !path.every((x) => typeof x === 'string')) throw new ParquetError({ file: name, rowGroup }, 'a column chunk without a column path');
      const column = path.join('.');
      const place = { file: name, rowGroup, column };
      if (!m) throw new ParquetError(place, 'a column chunk without metadata');
      if (chunk.file_path) throw new ParquetError(place, `its data is in another file (${chunk.file_path}), which is not supported`);
      if (!(SUPPORTED_CODECS as readonly string[]).includes(m.codec)) throw new ParquetError(place, `unsupported codec ${m.codec} (supported: ${SUPPORTED_CODECS.join(', ')})`);
      const start = Number(m.dictionary_page_offset || m.data_page_offset);
      const length = Number(m.total_compressed_size);
      if (!(start >= 4 && length >= 0 && start + length <= dataEnd)) {
        throw new ParquetError(place, `the file is truncated or damaged: the column chunk (bytes ${start}-${start + length}) is past the data's ${dataEnd} bytes`);
      }
      const unpacked = Number(m.total_uncompressed_size);
      if (!(unpacked >= 0 && unpacked <= 4 * MAX_PAGE_BYTES)) throw new ParquetError(place, `the column chunk claims ${m.total_uncompressed_size} decoded bytes`);
      if (chunk.offset_index_offset !== undefined) {
        const o = Number(chunk.offset_index_offset);
        if (!(o >= 0 && o + Number(chunk.offset_index_length ?? 0) <= dataEnd)) throw new ParquetError(place, 'the file is truncated or damaged: its offset index is past the data');
      }
      bytes += length;
    }
    // A row takes at least a bit of some column's levels; far more rows than that is a lie that
    // would have the decoder build millions of empty rows.
    if (rows > 1024 + 64 * bytes) throw new ParquetError({ file: name, rowGroup }, `claims ${rows} rows in ${bytes} bytes of data`);
    groupRows.push(rows);
    totalRows += rows;
  });
  }
}

const PAGE_TYPES = new Set(['DATA_PAGE', 'DATA_PAGE_V2', 'DICTIONARY_PAGE', 'INDEX_PAGE']);
/** Bytes read for one page header (a header with long statistics is read again whole). */
const HEADER_READ = 8 << 10;

/**
 * Walks the page headers of a row group's column chunks (small reads, no page data) and checks
 * them: hyparquet trusts them, and a negative page size sends its page loop backwards forever, a
 * huge value count makes it allocate without bound.
 */
async function checkPages(pq: ParquetFile, file: RandomAccess, rowGroup: number, columns: string[]): Promise<void> {
  const rows = pq.groupRows[rowGroup];
  for (const chunk of pq.metadata.row_groups[rowGroup].columns) {
    const m = chunk.meta_data!;
    const column = m.path_in_schema.join('.');
    if (!columns.includes(m.path_in_schema[0])) continue;
    const place = { file: pq.name, rowGroup, column };
    const start = Number(m.dictionary_page_offset || m.data_page_offset);
    const end = start + Number(m.total_compressed_size);
    let p = start;
    while (p < end - 1) {
      let header: ReturnType<typeof parquetHeader> | undefined;
      let headerLength = 0;
      for (const span of [HEADER_READ, end - p]) {
        const view = new DataView(await readRange(pq.name, file, p, Math.min(end, p + span)));
        try {
          const reader = { view, offset: 0 };
          header = parquetHeader(reader);
          headerLength = reader.offset;
          break;
        } catch (e) {
          if (span >= end - p) throw new ParquetError(place, `undecodable page header at byte ${p} (${text(e)})`);
        }
      }
      const h = header!;
      const compressed = h.compressed_page_size;
      const uncompressed = h.uncompressed_page_size;
      if (!PAGE_TYPES.has(h.type)) throw new ParquetError(place, `a page of unknown type at byte ${p}`);
      if (!(Number.isInteger(compressed) && compressed >= 0 && p + headerLength + compressed <= end)) {
        throw new ParquetError(place, `the page at byte ${p} claims ${compressed} bytes, past its column chunk (truncated or damaged)`);
      }
      if (!(Number.isInteger(uncompressed) && uncompressed >= 0 && uncompressed <= MAX_PAGE_BYTES)) {
        throw new ParquetError(place, `the page at byte ${p} claims ${uncompressed} decoded bytes (at most ${MAX_PAGE_BYTES})`);
      }
      const values = h.data_page_header?.num_values ?? h.data_page_header_v2?.num_values ?? h.dictionary_page_header?.num_values ?? 0;
      if (!(Number.isInteger(values) && values >= 0 && values <= 1024 + rows + 8 * uncompressed)) {
        throw new ParquetError(place, `the page at byte ${p} claims ${values} values`);
      }
      const v2 = h.data_page_header_v2;
      if (v2 && !(v2.num_rows >= 0 && v2.num_rows <= values && v2.definition_levels_byte_length >= 0 && v2.repetition_levels_byte_length >= 0 && v2.definition_levels_byte_length + v2.repetition_levels_byte_length <= compressed)) {
        throw new ParquetError(place, `the page at byte ${p} has inconsistent sizes`);
      }
      p += headerLength + compressed;
    }
  }
}

/** Every column a mapping names exists, and is not binary. */
export function checkMappedColumns(name: string, columns: ColumnInfo[], mapping: ColumnMapping): void {
  for (const [field, column] of Object.entries(mapping)) {
    if (field === 'role' || field === 'content' || !column) continue; // keys inside a turn
    const c = columns.find((x) => x.name === column);
    if (!c) throw new ParquetError({ file: name, column }, `no such column for '${field}' (the file has ${columns.map((x) => x.name).join(', ') || 'no columns'})`);
    if (c.binary) throw new ParquetError({ file: name, column }, `'${field}' is mapped to a binary column (bytes, not text)`);
  }
}

export interface ParquetReadOptions {
  /** Stop after this many rows. */
  maxRows?: number;
  /** Decoded bytes per slice of a row group with an offset index (tests use small values). */
  sliceBytes?: number;
  /** After each slice: rows read so far in this file. */
  onRows?: (rows: number) => void;
  /** Decode only these columns, when the file has any of them (ReadRecordsOptions.columns). */
  columns?: readonly string[];
}

/** The file's rows in order, row group by row group, each as the JSON a .jsonl line would hold. */
export async function* parquetRecords(pq: ParquetFile, file: RandomAccess, opts: ParquetReadOptions = {}): AsyncGenerator<RawRecord> {
  const { name, metadata } = pq;
  const all = pq.columns.filter((c) => !c.binary).map((c) => c.name);
  const wanted = opts.columns ? all.filter((c) => opts.columns!.includes(c)) : [];
  const read = wanted.length ? wanted : all;
  const limit = Math.min(opts.maxRows ?? Infinity, pq.totalRows);
  let groupStart = 0;
  for (let rowGroup = 0; rowGroup < pq.groupRows.length && groupStart < limit; rowGroup++) {
    const rows = pq.groupRows[rowGroup];
    const group = metadata.row_groups[rowGroup];
    const chunks = group.columns.filter((c) => read.includes(c.meta_data!.path_in_schema[0]));
    const indexed = chunks.length > 0 && chunks.every((c) => c.offset_index_offset !== undefined && c.offset_index_length);
    const decoded = chunks.reduce((a, c) => a + Number(c.meta_data!.total_uncompressed_size), 0);
    const step = indexed && decoded > 0 ? Math.max(1, Math.floor((rows * (opts.sliceBytes ?? SLICE_BYTES)) / decoded)) : rows;
    const groupEnd = Math.min(groupStart + rows, limit);
    await checkPages(pq, file, rowGroup, read);
    for (let start = groupStart; start < groupEnd; start += step) {
      const end = Math.min(start + step, groupEnd);
      const objects = await readRows(pq, file, rowGroup, read, start, end);
      for (let i = 0; i < objects.length; i++) {
        const row = start + i;
        yield toRecord(name, rowGroup, row, objects[i]);
      }
      opts.onRows?.(end);
    }
    groupStart += rows;
  }
}

function toRecord(file: string, rowGroup: number, row: number, object: Record<string, unknown>): RawRecord {
  const value: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(object)) {
    try {
      const v = jsonCell(cell);
      // A null cell is a missing key, as in a .jsonl line without it.
      if (v !== null && v !== undefined) value[column] = v;
    } catch (e) {
      if (e instanceof CellError) throw new ParquetError({ file, row, rowGroup, column }, e.message);
      throw e;
    }
  }
  return { line: row + 1, row, rowGroup, file, value };
}

/** Rows [start, end) of the file (all in one row group), or a ParquetError naming the failing column. */
async function readRows(pq: ParquetFile, file: RandomAccess, rowGroup: number, columns: string[], start: number, end: number): Promise<Record<string, unknown>[]> {
  const read = (cols: string[]) =>
    parquetReadObjects({ file: bounded(pq.name, file), metadata: pq.metadata, columns: cols, rowStart: start, rowEnd: end, compressors: COMPRESSORS, utf8: false, useOffsetIndex: true });
  if (!columns.length) return Array.from({ length: end - start }, () => ({}));
  let rows: Record<string, unknown>[];
  try {
    rows = await read(columns);
  } catch (e) {
    if (e instanceof ParquetError) throw e;
    // Which column? Each is read alone; the first that fails is named.
    for (const column of columns) {
      try {
        await read([column]);
      } catch (e2) {
        throw new ParquetError({ file: pq.name, rowGroup, column }, `undecodable column chunk (${text(e2)})`);
      }
    }
    throw new ParquetError({ file: pq.name, rowGroup }, `undecodable row group (${text(e)})`);
  }
  if (rows.length !== end - start) throw new ParquetError({ file: pq.name, rowGroup }, `holds ${rows.length} rows where its metadata says ${end - start}`);
  return rows;
}

/** The file with every range checked against its length (a damaged offset index points anywhere). */
function bounded(name: string, file: RandomAccess): RandomAccess {
  return { byteLength: file.byteLength, slice: (start, end = file.byteLength) => readRange(name, file, start, end) };
}

