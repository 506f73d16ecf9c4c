// A store-only ZIP writer: what the export needs to hand over an adapter folder as one download.
//
// Format (PKWARE APPNOTE.TXT 6.3.10, §4.3–4.4): for each file a local file header, then its bytes
// uncompressed (method 0, "stored"); then one central directory header per file; then the end of
// central directory record. Names are UTF-8 with general-purpose flag bit 11 set, so non-ASCII
// names read back as written; "made by" is UNIX with mode 0644, so unzip gives ordinary files.
// No ZIP64: the writer refuses a file or an archive of 4 GiB or more, or 65,535 files or more,
// rather than write a broken archive (a LoRA adapter is megabytes).
//
// Why no library: the export needs only this small, fixed subset (a few files, no compression,
// no reading, no streaming, no encryption), which is ~100 lines against a spec that has not
// changed in decades; a dependency would add bundle size and supply-chain surface to a page that
// promises nothing leaves the machine. Compression is not worth it either: f32 adapter weights
// are close to random bytes (deflate saves a few percent), and the JSON and README are tiny.

export interface ZipEntry {
  /** Path inside the archive: forward slashes, relative, no "." or ".." segments. */
  name: string;
  /** A string is written as UTF-8. */
  data: Uint8Array | string;
  /** Modification time (local time, 2-second resolution, 1980–2107); default: the archive's. */
  date?: Date;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
/** 2.0: the version most writers put in "version needed" for stored files. */
const VERSION_NEEDED = 20;
/** Upper byte 3 = UNIX (so external attributes carry a mode), lower byte = spec version 2.0. */
const VERSION_MADE_BY = (3 << 8) | 20;
const FLAG_UTF8 = 1 << 11;
const METHOD_STORED = 0;
/** S_IFREG | 0644 in the upper 16 bits of the external attributes. */
const EXTERNAL_ATTRS = (0o100644 << 16) >>> 0;
const MAX_U32 = 0xffffffff;
const MAX_U16 = 0xffff;

let crcTable: Uint32Array | null = null;

function table(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  crcTable = t;
  return t;
}

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as ZIP and gzip use it; chainable via `crc`. */
export function crc32(data: Uint8Array, crc = 0): number {
  const t = table();
  let c = (crc ^ MAX_U32) >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ MAX_U32) >>> 0;
}

/** MS-DOS time and date words of a local time (seconds halved; years clamped to 1980–2107). */
export function dosDateTime(d: Date): { time: number; date: number } {
  const y = d.getFullYear();
  if (!(y >= 1980)) return { time: 0, date: (1 << 5) | 1 }; // 1980-01-01 00:00:00 (also an invalid Date)
  if (y > 2107) return { time: (23 << 11) | (59 << 5) | 29, date: (127 << 9) | (12 << 5) | 31 };
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((y - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

function checkName(name: string): void {
  const bad = (why: string) => new Error(`zip: bad file name ${JSON.stringify(name)}: ${why}`);
  if (!name) throw bad('empty');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw bad('must be relative');
  if (name.includes('\\')) throw bad('use forward slashes');
  if (name.includes('\0')) throw bad('contains NUL');
  if (name.split('/').some((s) => s === '.' || s === '..' || s === '')) throw bad('empty, "." or ".." path segment');
}

/** A ZIP archive holding `entries` uncompressed, in order. */
export function zipStore(entries: readonly ZipEntry[], now: Date = new Date()): Uint8Array<ArrayBuffer> {
  if (entries.length >= MAX_U16) throw new RangeError(`zip: ${entries.length} files is too many without ZIP64`);
  const enc = new TextEncoder();
  const seen = new Set<string>();
  const files = entries.map((e) => {
    checkName(e.name);
    if (seen.has(e.name)) throw new Error(`zip: duplicate file name ${JSON.stringify(e.name)}`);
    seen.add(e.name);
    const name = enc.encode(e.name);
    if (name.length > MAX_U16) throw new RangeError(`zip: file name of ${name.length} bytes is too long`);
    const data = typeof e.data === 'string' ? enc.encode(e.data) : e.data;
    if (data.length >= MAX_U32) throw new RangeError(`zip: ${e.name} is 4 GiB or more (no ZIP64)`);
    return { name, data, crc: crc32(data), ...dosDateTime(e.date ?? now) };
  });

  let localSize = 0;
  for (const f of files) localSize += 30 + f.name.length + f.data.length;
  let centralSize = 0;
  for (const f of files) centralSize += 46 + f.name.length;
  const total = localSize + centralSize + 22;
  if (localSize >= MAX_U32 || total >= MAX_U32) throw new RangeError('zip: the archive would be 4 GiB or more (no ZIP64)');

  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  let p = 0;
  const u16 = (x: number) => {
    v.setUint16(p, x, true);
    p += 2;
  };
  const u32 = (x: number) => {
    v.setUint32(p, x >>> 0, true);
    p += 4;
  };
  const bytes = (b: Uint8Array) => {
    out.set(b, p);
    p += b.length;
  };
  /** From "version needed" to the name's length: the local header and the central record carry the same run. */
  const sharedHeaderFields = (f: (typeof files)[number]) => {
    u16(VERSION_NEEDED);
    u16(FLAG_UTF8);
    u16(METHOD_STORED);
    u16(f.time);
    u16(f.date);
    u32(f.crc);
    u32(f.data.length); // compressed size
    u32(f.data.length); // uncompressed size
    u16(f.name.length);
  };

  const offsets: number[] = [];
  for (const f of files) {
    offsets.push(p);
    u32(SIG_LOCAL);
    sharedHeaderFields(f);
    u16(0); // extra field length
    bytes(f.name);
    bytes(f.data);
  }

  const centralStart = p;
  files.forEach((f, i) => {
    u32(SIG_CENTRAL);
    u16(VERSION_MADE_BY);
    sharedHeaderFields(f);
    u16(0); // extra field length
    u16(0); // comment length
    u16(0); // disk number start
    u16(0); // internal attributes
    u32(EXTERNAL_ATTRS);
    u32(offsets[i]);
    bytes(f.name);
  });

  u32(SIG_END);
  u16(0); // this disk
  u16(0); // disk with the central directory
  u16(files.length); // entries on this disk
  u16(files.length); // entries in total
  u32(centralSize);
  u32(centralStart);
  u16(0); // comment length
  if (p !== total) throw new Error(`zip: wrote ${p} bytes, expected ${total}`);
  return out;
}
