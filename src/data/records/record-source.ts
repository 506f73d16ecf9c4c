// The record source under the dataset pipeline: rows plus a column schema, from text files
// (.jsonl .json .csv .tsv .txt, parse.ts) and Parquet files (parquet.ts) alike, several files read
// as one source in order (a Hub split's Parquet shards). The pipeline (prepareDataset, preference
// data) reads records from here, so every format, template and mask rule applies to all of them.
import { DatasetError } from '../errors';
import type { ColumnMapping } from '../formats';
import { fileTypeFromName, parseRecords, type FileType, type RawRecord, type TxtMode } from '../parse';
import type { ByteSource, ReadProgress } from '../source';
import { checkMappedColumns, openParquet, parquetRecords, type ParquetFile } from './parquet';
import { ParquetError } from './parquet-error';
import type { ColumnInfo } from './parquet-values';
import { blobRandomAccess, bytesRandomAccess, isRandomAccess, type RandomAccess } from './random-access';

/** One file of a source: text as a byte stream (or random access), Parquet by random access (a Blob or bytes work too). */
export interface RecordFile {
  name: string;
  data: ByteSource | RandomAccess;
}

export interface RecordProgress {
  /** Text files: bytes and lines read (over all files). */
  bytes: number;
  lines: number;
  /** Records read (rows of Parquet, records of text). */
  rows: number;
  /** Parquet: the rows of all files (from their metadata); undefined while a text file is in the source. */
  totalRows?: number;
}

export interface RecordSourceOptions {
  /** The files' type; default from each file's name. */
  fileType?: FileType;
  txtMode?: TxtMode;
  /** Parquet: decoded bytes per slice of a row group with an offset index (parquet.ts SLICE_BYTES). */
  sliceBytes?: number;
}

/** How one pass over the records goes. */
export interface ReadRecordsOptions {
  /** Checked against the columns first: a mapped column that a Parquet file lacks (or is binary) is a ParquetError. */
  mapping?: ColumnMapping;
  /** Stop after this many records (rows), over all files. */
  maxRecords?: number;
  /**
   * Parquet: decode only these columns (the others are left unread). When the file has none of
   * them, every column is read, so that a refusal can name what the file holds. Text: ignored.
   */
  columns?: readonly string[];
  onProgress?: (p: RecordProgress) => void;
}

export interface RecordSource {
  readonly files: readonly string[];
  /** The type of the first file (all files of a source have one type). */
  readonly fileType: FileType;
  /** The columns: Parquet's schema; a text file's from its first record's keys. */
  columns(): Promise<ColumnInfo[]>;
  /** All rows when every file knows them (Parquet); undefined for text. */
  totalRows(): Promise<number | undefined>;
  /** The records of every file, in order. A stream-backed text file can be read once. */
  records(read?: ReadRecordsOptions): AsyncGenerator<RawRecord>;
}

export function isRecordSource(x: unknown): x is RecordSource {
  return typeof x === 'object' && x !== null && typeof (x as RecordSource).records === 'function' && typeof (x as RecordSource).columns === 'function';
}

/** A list of RecordFile (not a ByteSource that is an array of byte chunks). */
export function isRecordFileList(x: unknown): x is RecordFile[] {
  return Array.isArray(x) && x.length > 0 && x.every((f) => typeof f === 'object' && f !== null && typeof (f as RecordFile).name === 'string' && 'data' in f);
}

function randomAccess(f: RecordFile): RandomAccess {
  const d = f.data;
  if (isRandomAccess(d)) return d;
  if (typeof Blob !== 'undefined' && d instanceof Blob) return blobRandomAccess(d);
  if (d instanceof Uint8Array) return bytesRandomAccess(d);
  throw new ParquetError({ file: f.name }, 'a Parquet file is read by byte ranges: give a File/Blob, bytes or a random-access reader, not a stream');
}

/** A text file's bytes as a ByteSource (a random-access reader is read in 1 MiB ranges). */
function byteSource(data: ByteSource | RandomAccess): ByteSource {
  if (!isRandomAccess(data)) return data;
  return (async function* () {
    for (let at = 0; at < data.byteLength; at += 1 << 20) yield new Uint8Array(await data.slice(at, Math.min(data.byteLength, at + (1 << 20))));
  })();
}

/** A ColumnInfo per key of a text record (CSV header, JSON keys), typed by its value. */
function columnsOf(value: unknown): ColumnInfo[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).map(([name, v]) => ({
    name,
    type: v === null ? 'null' : Array.isArray(v) ? (v.length && typeof v[0] === 'object' && v[0] !== null ? 'list<struct>' : 'list') : typeof v === 'object' ? 'struct' : typeof v,
  }));
}

/** One source over `files` (read in order). Throws DatasetError for no files or mixed types. */
export function openRecordSource(files: RecordFile[], opts: RecordSourceOptions = {}): RecordSource {
  if (!files.length) throw new DatasetError('no data files');
  const types = files.map((f) => opts.fileType ?? fileTypeFromName(f.name));
  const fileType = types[0];
  const other = types.findIndex((t) => t !== fileType);
  if (other >= 0) throw new DatasetError(`${files[other].name}: a ${types[other]} file among ${fileType} files; one source holds one type`);
  const several = files.length > 1;

  if (fileType === 'parquet') {
    const access = files.map(randomAccess);
    let opened: Promise<ParquetFile[]> | null = null;
    const open = () => (opened ??= Promise.all(files.map((f, i) => openParquet(f.name, access[i]))));
    const totalRows = async () => (await open()).reduce((a, p) => a + p.totalRows, 0);
    return {
      files: files.map((f) => f.name),
      fileType,
      columns: async () => (await open())[0].columns,
      totalRows,
      async *records(read: ReadRecordsOptions = {}) {
        const pqs = await open();
        if (read.mapping) for (const p of pqs) checkMappedColumns(p.name, p.columns, read.mapping);
        const total = Math.min(await totalRows(), read.maxRecords ?? Infinity);
        let before = 0;
        for (let i = 0; i < pqs.length && before < total; i++) {
          const onRows = (rows: number) => read.onProgress?.({ bytes: 0, lines: 0, rows: before + rows, totalRows: total });
          yield* parquetRecords(pqs[i], access[i], { maxRows: total - before, sliceBytes: opts.sliceBytes, onRows, columns: read.columns });
          before += pqs[i].totalRows;
        }
      },
    };
  }

  // Text: the first record is read once for columns() and handed again to records(). Progress goes
  // to the current pass's listener; the record limit is checked by records().
  let iterator: AsyncGenerator<RawRecord> | null = null;
  let first: Promise<IteratorResult<RawRecord>> | null = null;
  let listener: ((p: RecordProgress) => void) | undefined;
  const all = async function* (): AsyncGenerator<RawRecord> {
    let bytes = 0;
    let lines = 0;
    let rows = 0;
    for (const f of files) {
      let fileBytes = 0;
      let fileLines = 0;
      const onProgress = (p: ReadProgress) => {
        fileBytes = p.bytes;
        fileLines = p.lines;
        listener?.({ bytes: bytes + fileBytes, lines: lines + fileLines, rows });
      };
      for await (const rec of parseRecords(byteSource(f.data), fileType, { txtMode: opts.txtMode, onProgress })) {
        rows++;
        yield several ? { ...rec, file: f.name } : rec;
      }
      bytes += fileBytes;
      lines += fileLines;
    }
  };
  const start = () => {
    iterator ??= all();
    first ??= iterator.next();
    return first;
  };
  return {
    files: files.map((f) => f.name),
    fileType,
    async columns() {
      // The first record with a value names the columns (the CSV header, a JSON record's keys).
      const r = await start();
      return r.done || 'error' in r.value ? [] : columnsOf(r.value.value);
    },
    totalRows: async () => undefined,
    async *records(read: ReadRecordsOptions = {}) {
      listener = read.onProgress;
      const max = read.maxRecords ?? Infinity;
      const r = await start();
      if (r.done || max < 1) return;
      yield r.value;
      let n = 1;
      for await (const rec of iterator!) {
        if (n++ >= max) return;
        yield rec;
      }
    },
  };
}

/** What the pipeline reads a dataset from: a record source, its files, or one file's bytes (the type from `fileName`). */
export type DatasetInput = ByteSource | RecordSource | RecordFile[];

/** The record source of a pipeline input; one ByteSource is a file named `fileName` (else its own name; else JSON Lines). */
export function toRecordSource(input: DatasetInput, opts: RecordSourceOptions & { fileName?: string } = {}): RecordSource {
  if (isRecordSource(input)) return input;
  if (isRecordFileList(input)) return openRecordSource(input, opts);
  const own = (input as { name?: unknown }).name;
  const name = opts.fileName ?? (typeof own === 'string' && own ? own : undefined);
  const fileType = opts.fileType ?? (name ? fileTypeFromName(name) : 'jsonl');
  return openRecordSource([{ name: name ?? '', data: input }], { ...opts, fileType });
}
