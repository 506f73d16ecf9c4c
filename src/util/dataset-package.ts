// A dataset as the studio sends it to the engine worker and as a run keeps it: the file's bytes
// (a Hub split's Parquet shards: several training files, read as one source in order), and with
// them how to read them (format, column mapping, text mode, what to train on) and an optional
// validation file, and the Hub split they came from (so a resumed run's card and recipe name the
// dataset, not a file). One ArrayBuffer, so that
//   - the worker protocol's loadDataset({fileName, bytes, skipInvalid}) carries the options as is,
//   - a run record (which stores exactly those bytes, src/worker/run-store.ts) resumes with the
//     same options, so a resumed run sees the same tokens and masks as the original one.
// One training file with default options, no validation file and no Hub origin is sent as the plain
// file, unchanged.
//
// Layout: MAGIC (8 bytes) · header length (u32 LE) · header (UTF-8 JSON, PackageHeader) · the
// files' bytes, back to back, in header.files order. A real dataset file never starts with MAGIC:
// its first byte is NUL, and the pipeline refuses files with NUL bytes as binary.
// Pure: no DOM, no Node; used by the page (src/state) and the worker (src/worker/dataset.ts).

export type DatasetFormatChoice = 'auto' | 'text' | 'completion' | 'alpaca' | 'messages' | 'sharegpt';

/** How to read a dataset file (src/data's PrepareOptions, as plain data). */
export interface DatasetReadOptions {
  format: DatasetFormatChoice;
  /** `field=column` pairs, comma-separated, as the CLI's --map (src/data parseColumnMapping). */
  mapping: string;
  /** .txt files: one example per line, or per blank-line-separated paragraph. */
  txtMode: 'line' | 'paragraph';
  /** 'assistant': assistant turns / completions only (default); 'all': every token. */
  trainOn: 'assistant' | 'all';
  /** Validation split chosen in the dataset panel (the page applies it; kept so a resume shows it). */
  validation: { mode: 'none' | 'fraction' | 'file'; fraction: number };
  /** Read at most this many records (a Hub dataset's row limit); absent: all. */
  maxRecords?: number;
}

export const DEFAULT_READ_OPTIONS: DatasetReadOptions = {
  format: 'auto',
  mapping: '',
  txtMode: 'line',
  trainOn: 'assistant',
  validation: { mode: 'none', fraction: 0.1 },
};

export interface PackagedFile {
  name: string;
  bytes: Uint8Array;
}

/** A Hub dataset split at a commit (src/hub/datasets.ts HubDatasetSource). */
export interface DatasetOrigin {
  id: string;
  config: string;
  split: string;
  revision: string;
}

export interface DatasetPackage {
  options: DatasetReadOptions;
  /** The Hub split the files are (null: the user's own file). */
  hub: DatasetOrigin | null;
  /** The training files, in order (one, or a Hub split's Parquet shards). */
  train: PackagedFile[];
  validation: PackagedFile | null;
}

interface PackageHeader {
  v: 1;
  options: DatasetReadOptions;
  hub?: DatasetOrigin;
  files: Array<{ role: 'train' | 'validation'; name: string; size: number }>;
}

const MAGIC = [0x00, 0x4c, 0x53, 0x44, 0x53, 0x45, 0x54, 0x31]; // "\0LSDSET1"

/** True when the options change nothing the worker does (the validation fraction is the page's). */
export function isDefaultRead(o: DatasetReadOptions): boolean {
  return o.format === 'auto' && !o.mapping.trim() && o.txtMode === 'line' && o.trainOn === 'assistant' && o.maxRecords === undefined;
}

export function isPackage(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length + 4 && MAGIC.every((b, i) => bytes[i] === b);
}

/** The bytes to send: the plain file when nothing needs saying, else a package. */
export function packDataset(p: DatasetPackage): ArrayBuffer {
  if (!p.train.length) throw new Error('dataset package: no dataset file');
  if (p.train.length === 1 && p.validation === null && p.hub === null && isDefaultRead(p.options)) return copy(p.train[0].bytes);
  const files = [...p.train, ...(p.validation ? [p.validation] : [])];
  const header: PackageHeader = {
    v: 1,
    options: p.options,
    ...(p.hub ? { hub: p.hub } : {}),
    files: files.map((f, i) => ({ role: i < p.train.length ? 'train' : 'validation', name: f.name, size: f.bytes.length })),
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  let total = MAGIC.length + 4 + head.length;
  for (const f of files) total += f.bytes.length;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, head.length, true);
  let o = MAGIC.length + 4;
  out.set(head, o);
  o += head.length;
  for (const f of files) {
    out.set(f.bytes, o);
    o += f.bytes.length;
  }
  return out.buffer;
}

/** The package in `bytes` (views into it, no copies), or null when `bytes` is a plain file. */
export function unpackDataset(bytes: Uint8Array): DatasetPackage | null {
  if (!isPackage(bytes)) return null;
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  let o = MAGIC.length + 4;
  if (o + len > bytes.length) throw new Error('dataset package: truncated header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(o, o + len))) as PackageHeader;
  if (header.v !== 1) throw new Error(`dataset package: unknown version ${String(header.v)}`);
  o += len;
  const train: PackagedFile[] = [];
  let validation: PackagedFile | null = null;
  for (const f of header.files) {
    if (o + f.size > bytes.length) throw new Error(`dataset package: ${f.name} is truncated`);
    const file = { name: f.name, bytes: bytes.subarray(o, o + f.size) };
    o += f.size;
    if (f.role === 'train') train.push(file);
    else validation = file;
  }
  if (!train.length) throw new Error('dataset package: no dataset file');
  const options: DatasetReadOptions = {
    ...DEFAULT_READ_OPTIONS,
    ...header.options,
    validation: { ...DEFAULT_READ_OPTIONS.validation, ...header.options?.validation },
  };
  return { options, hub: originOf(header.hub), train, validation };
}

/** The header's Hub origin when it has every field as a string (else null: the package is still read). */
function originOf(h: unknown): DatasetOrigin | null {
  if (!h || typeof h !== 'object') return null;
  const o = h as Record<string, unknown>;
  return typeof o.id === 'string' && typeof o.config === 'string' && typeof o.split === 'string' && typeof o.revision === 'string'
    ? { id: o.id, config: o.config, split: o.split, revision: o.revision }
    : null;
}

function copy(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer.slice(0) as ArrayBuffer) : (b.slice().buffer as ArrayBuffer);
}
