// A dataset as a run keeps it (src/worker/run-store.ts): the training files (a Hub split's Parquet
// shards: several, read as one source in order), how to read them (format, column mapping, text
// mode, what to train on), an optional validation file and the Hub split they came from, so that a
// resumed run sees the same tokens and masks as the original one and its card and recipe name the
// dataset, not a file.
// One Blob built from the files' own Blobs: a Parquet split is never read into memory to be kept
// (IndexedDB stores a Blob by streaming it), and unpacking gives the files back as Blob slices that
// the worker reads by byte ranges. One training file with default options, no validation file and
// no Hub origin is kept as the plain file, unchanged.
//
// Layout: MAGIC (8 bytes) · header length (u32 LE) · header (UTF-8 JSON, PackageHeader) · the
// files' bytes, back to back, in header.files order. A real dataset file never starts with MAGIC:
// its first byte is NUL, and the pipeline refuses files with NUL bytes as binary.
// Pure: no DOM, no Node (Blob is in both); used by the page (src/state) and the worker (src/worker/dataset.ts).

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

/** A Hub dataset split at a commit (src/hub/datasets.ts HubDatasetSource). */
export interface DatasetOrigin {
  id: string;
  config: string;
  split: string;
  revision: string;
}

export interface PackagedFile {
  name: string;
  /** The file: its bytes, or a Blob (a Parquet file kept without reading it). */
  data: Uint8Array | Blob;
}

export interface DatasetPackage {
  options: DatasetReadOptions;
  /** The Hub split the files are (null: the user's own file). */
  hub: DatasetOrigin | null;
  /** The training files, in order (one, or a Hub split's Parquet shards). */
  train: PackagedFile[];
  validation: PackagedFile | null;
}

/** A kept package's file: a slice of the package's Blob. */
export interface UnpackedFile {
  name: string;
  blob: Blob;
}

export interface UnpackedDataset {
  options: DatasetReadOptions;
  hub: DatasetOrigin | null;
  train: UnpackedFile[];
  validation: UnpackedFile | null;
}

interface PackageHeader {
  v: 1;
  options: DatasetReadOptions;
  hub?: DatasetOrigin;
  files: Array<{ role: 'train' | 'validation'; name: string; size: number }>;
}

const MAGIC = [0x00, 0x4c, 0x53, 0x44, 0x53, 0x45, 0x54, 0x31]; // "\0LSDSET1"
const PREFIX = MAGIC.length + 4;

/** True when the options change nothing the worker does (the validation fraction is the page's). */
export function isDefaultRead(o: DatasetReadOptions): boolean {
  return o.format === 'auto' && !o.mapping.trim() && o.txtMode === 'line' && o.trainOn === 'assistant' && o.maxRecords === undefined;
}

const sizeOf = (d: Uint8Array | Blob): number => (d instanceof Uint8Array ? d.length : d.size);
const part = (d: Uint8Array | Blob): BlobPart => d as Uint8Array<ArrayBuffer> | Blob;

/** The Blob to keep: the plain file when nothing needs saying, else a package. Reads no file. */
export function packDataset(p: DatasetPackage): Blob {
  if (!p.train.length) throw new Error('dataset package: no dataset file');
  if (p.train.length === 1 && p.validation === null && p.hub === null && isDefaultRead(p.options)) return new Blob([part(p.train[0].data)]);
  const files = [...p.train, ...(p.validation ? [p.validation] : [])];
  const header: PackageHeader = {
    v: 1,
    options: p.options,
    ...(p.hub ? { hub: p.hub } : {}),
    files: files.map((f, i) => ({ role: i < p.train.length ? 'train' : 'validation', name: f.name, size: sizeOf(f.data) })),
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(PREFIX);
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(MAGIC.length, head.length, true);
  return new Blob([prefix, head, ...files.map((f) => part(f.data))]);
}

/** The package in `kept` (its files as slices of it, nothing read but the header), or null when it is a plain file. */
export async function unpackDataset(kept: Blob): Promise<UnpackedDataset | null> {
  if (kept.size < PREFIX) return null;
  const prefix = new Uint8Array(await kept.slice(0, PREFIX).arrayBuffer());
  if (!MAGIC.every((b, i) => prefix[i] === b)) return null;
  const len = new DataView(prefix.buffer).getUint32(MAGIC.length, true);
  let o = PREFIX;
  if (o + len > kept.size) throw new Error('dataset package: truncated header');
  const header = JSON.parse(new TextDecoder().decode(await kept.slice(o, o + len).arrayBuffer())) as PackageHeader;
  if (header.v !== 1) throw new Error(`dataset package: unknown version ${String(header.v)}`);
  o += len;
  const train: UnpackedFile[] = [];
  let validation: UnpackedFile | null = null;
  for (const f of header.files) {
    if (o + f.size > kept.size) throw new Error(`dataset package: ${f.name} is truncated`);
    const file = { name: f.name, blob: kept.slice(o, o + f.size) };
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
