// Reading .zip archives that strangers publish, entry by entry, with caps. The central directory
// is parsed here (not by fflate's unzip) so that the entry count, each wanted entry's declared
// size and their total are refused before anything is inflated, and only the wanted entries are
// inflated. Each is inflated in small compressed chunks into a buffer of exactly its declared size,
// stopping as soon as it yields more, so an entry that lies about its size costs no more memory or
// time than it declared; its CRC-32 is then checked.
// storedZipFiles splits a stored archive held in a Blob (the page's ONNX export) into its files as
// slices of that Blob: only the central directory and the local headers are read, nothing copied.
// No ZIP64: the archives read here (PEFT adapters, a web export) are below 4 GiB.

import { Inflate } from 'fflate';
import { crc32 } from '../../util/crc32';
import { failWith, type Fail } from './errors';

export interface ZipLimits {
  /** Most entries the central directory may list (default 10,000). */
  maxEntries?: number;
  /** Largest inflated size of one wanted entry (or of the entry named). */
  maxEntryBytes: number | ((name: string) => number);
  /** Largest inflated size of all wanted entries together. */
  maxTotalBytes: number;
}

/** DEFLATE cannot expand more than 1032:1; a declared size beyond that is a lie. */
const MAX_DEFLATE_RATIO = 1032;
const SIG_END = 0x06054b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

interface CentralEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The entry names of an archive (from its central directory; nothing is inflated). */
export function zipEntryNames(bytes: Uint8Array, file: string, maxEntries = 10_000, fail: Fail = failWith(file)): string[] {
  return centralDirectory(bytes, fail, maxEntries).map((e) => e.name);
}

/**
 * Inflates the entries of `bytes` (the archive `file`) whose names `wanted` accepts, path → bytes.
 * Throws UntrustedFileError (or through `fail`) naming the archive and the entry.
 */
export function readZipEntries(
  bytes: Uint8Array,
  file: string,
  wanted: (name: string) => boolean,
  limits: ZipLimits,
  fail: Fail = failWith(file),
): Record<string, Uint8Array> {
  const entries = centralDirectory(bytes, fail, limits.maxEntries ?? 10_000).filter((e) => wanted(e.name));
  // Two entries of one name: a reader would take either, and they may differ.
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) fail(e.name, 'appears twice in the archive (which one is meant is ambiguous)');
    seen.add(e.name);
  }
  let total = 0;
  for (const e of entries) {
    const max = typeof limits.maxEntryBytes === 'number' ? limits.maxEntryBytes : limits.maxEntryBytes(e.name);
    if (e.size > max) fail(e.name, `inflates to ${e.size} bytes, more than the ${max} this entry may have`);
    if (e.method === 8 && e.size > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      fail(e.name, `claims ${e.size} bytes from ${e.compressedSize} compressed bytes, more than DEFLATE can expand`);
    }
    total += e.size;
  }
  if (total > limits.maxTotalBytes) fail(null, `inflates to ${total} bytes in the entries read, more than the ${limits.maxTotalBytes} allowed`);
  const out: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const e of entries) out[e.name] = inflateEntry(bytes, e, fail);
  return out;
}

/**
 * The files of a stored (uncompressed) archive as slices of `zip`, in archive order: nothing is
 * copied, and no CRC is checked (that would read every byte; the archive is one the page wrote).
 */
export async function storedZipFiles(zip: Blob, file: string, fail: Fail = failWith(file)): Promise<{ name: string; blob: Blob }[]> {
  const bytesFrom = async (start: number, end = zip.size): Promise<Uint8Array> => new Uint8Array(await zip.slice(start, end).arrayBuffer());
  const tailStart = Math.max(0, zip.size - 22 - 0xffff);
  const { cdOffset } = endRecord(await bytesFrom(tailStart), fail, tailStart);
  const out: { name: string; blob: Blob }[] = [];
  for (const e of centralDirectory(await bytesFrom(cdOffset), fail, 10_000, cdOffset)) {
    if (e.name.endsWith('/')) continue; // a folder entry
    if (e.flags & 1) fail(e.name, 'is encrypted, which is not supported');
    if (e.method !== 0 || e.compressedSize !== e.size) fail(e.name, `is compressed (method ${e.method}): only a stored archive is split into its files`);
    const local = await bytesFrom(e.localOffset, Math.min(e.localOffset + 30, zip.size));
    const dv = new DataView(local.buffer);
    if (local.byteLength < 30 || dv.getUint32(0, true) !== SIG_LOCAL) fail(e.name, `has no local header at offset ${e.localOffset}`);
    const start = e.localOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    if (start + e.size > cdOffset) fail(e.name, `has data [${start}, ${start + e.size}) that runs into the central directory at ${cdOffset}`);
    out.push({ name: e.name, blob: zip.slice(start, start + e.size) });
  }
  return out;
}

/**
 * The end of central directory record, found in the last 22 + 65535 (comment) bytes of `bytes`,
 * which start at `base` in the archive: its offset in `bytes`, the entry count, and the central
 * directory's offset in the archive.
 */
function endRecord(bytes: Uint8Array, fail: Fail, base = 0): { end: number; count: number; cdOffset: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  let end = -1;
  for (let i = n - 22; i >= 0 && i >= n - 22 - 0xffff; i--) {
    if (dv.getUint32(i, true) === SIG_END) {
      end = i;
      break;
    }
  }
  if (end < 0) return fail(null, 'is not a .zip archive (no end of central directory record)');
  const count = dv.getUint16(end + 10, true);
  const cdSize = dv.getUint32(end + 12, true);
  const cdOffset = dv.getUint32(end + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) fail(null, 'is a ZIP64 archive, which is not supported');
  if (cdOffset + cdSize > base + end) fail(null, `has a central directory [${cdOffset}, ${cdOffset + cdSize}) that runs past its end record at ${base + end}`);
  return { end, count, cdOffset };
}

/** The central directory's entries; `bytes` hold the archive from offset `base` (its end record included). */
function centralDirectory(bytes: Uint8Array, fail: Fail, maxEntries: number, base = 0): CentralEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { end, count, cdOffset } = endRecord(bytes, fail, base);
  if (count > maxEntries) fail(null, `lists ${count} entries, more than the ${maxEntries} allowed`);
  if (cdOffset < base) fail(null, `has a central directory at ${cdOffset}, before the bytes read (from ${base})`);
  const list: CentralEntry[] = [];
  let p = cdOffset - base;
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  for (let k = 0; k < count; k++) {
    if (p + 46 > end || dv.getUint32(p, true) !== SIG_CENTRAL) fail(null, `has a damaged central directory entry ${k + 1}`);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    if (p + 46 + nameLen > end) fail(null, `has central directory entry ${k + 1} with a name past the directory`);
    const entry: CentralEntry = {
      flags: dv.getUint16(p + 8, true),
      method: dv.getUint16(p + 10, true),
      crc: dv.getUint32(p + 16, true),
      compressedSize: dv.getUint32(p + 20, true),
      size: dv.getUint32(p + 24, true),
      localOffset: dv.getUint32(p + 42, true),
      name: utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen)),
    };
    if (entry.size === 0xffffffff || entry.compressedSize === 0xffffffff || entry.localOffset === 0xffffffff) {
      fail(entry.name, 'is a ZIP64 entry, which is not supported');
    }
    list.push(entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return list;
}

function inflateEntry(bytes: Uint8Array, e: CentralEntry, fail: Fail): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = e.localOffset;
  if (at + 30 > bytes.byteLength || dv.getUint32(at, true) !== SIG_LOCAL) fail(e.name, `has no local header at offset ${at}`);
  if (e.flags & 1) fail(e.name, 'is encrypted, which is not supported');
  const start = at + 30 + dv.getUint16(at + 26, true) + dv.getUint16(at + 28, true);
  if (start + e.compressedSize > bytes.byteLength) fail(e.name, `has data [${start}, ${start + e.compressedSize}) that runs past the end of the archive (${bytes.byteLength} bytes)`);
  const raw = bytes.subarray(start, start + e.compressedSize);
  let data: Uint8Array;
  if (e.method === 0) {
    if (e.compressedSize !== e.size) fail(e.name, `is stored with ${e.compressedSize} bytes but declares ${e.size}`);
    data = raw.slice();
  } else if (e.method === 8) {
    data = inflateBounded(raw, e.size, e.name, fail);
  } else {
    return fail(e.name, `uses compression method ${e.method}, which is not supported (stored or deflated only)`);
  }
  if (crc32(data) !== e.crc) fail(e.name, 'does not match its CRC-32 (damaged)');
  return data;
}

/** Compressed bytes pushed per step: at most 16 KiB × 1032 of output exists before it is counted. */
const INFLATE_CHUNK = 16 << 10;

function inflateBounded(raw: Uint8Array, size: number, name: string, fail: Fail): Uint8Array {
  const out = new Uint8Array(size);
  let got = 0;
  let over = false;
  const inf = new Inflate((chunk) => {
    if (got + chunk.length > size) {
      over = true;
      throw new RangeError('over'); // stops fflate mid-stream; reported below
    }
    out.set(chunk, got);
    got += chunk.length;
  });
  try {
    for (let i = 0; i < raw.length || i === 0; i += INFLATE_CHUNK) {
      const end = Math.min(raw.length, i + INFLATE_CHUNK);
      inf.push(raw.subarray(i, end), end === raw.length);
      if (end === raw.length) break;
    }
  } catch (err) {
    if (over) return fail(name, `inflates to more than the ${size} bytes it declares`);
    return fail(name, `cannot be inflated (${(err as Error).message})`);
  }
  if (got !== size) fail(name, `inflates to ${got} bytes but declares ${size}`);
  return out;
}
