// The one .zip writer: fflate's streaming Zip (a kept dependency), every entry stored (method 0:
// f32/f16 weights are near-random bytes that deflate saves a few percent of, and stored entries
// can be sliced back out of the archive without copying: src/io/untrusted/zip.ts storedZipFiles).
// Entries stream: their bytes go to the sink as they are written, nothing is held whole.
//   ZipWriter  OutputFiles over a ByteSink (the page's GGUF and ONNX downloads, in the worker);
//   zipStore   a small archive from whole files, as bytes (the adapter .zip, the recipe .zip).
// Names are checked (relative, no '.'/'..', no duplicates); entries carry UNIX mode 0644 and the
// UTF-8 name flag where a name is not ASCII (fflate sets it).
//
// No ZIP64: fflate 0.8 writes 32-bit sizes and offsets only, and past 4 GiB they would wrap into a
// broken archive. So an entry or an archive that would reach 4 GiB, or 65,535 entries, is refused
// with ZipLimitError naming the entry before its bytes pass the limit (writing ZIP64 by hand would
// bring back the hand-written writer this module replaced; no export of the page reaches it).
import { Zip, ZipPassThrough } from 'fflate';
import type { ByteSink, OutputFile, OutputFiles } from './byte-sink';

export interface ZipEntry {
  /** Path inside the archive: forward slashes, relative, no "." or ".." segments. */
  name: string;
  /** A string is written as UTF-8. */
  data: Uint8Array | string;
}

/** A .zip that would need ZIP64 (an entry or the archive of 4 GiB or more, 65,535 entries or more). */
export class ZipLimitError extends RangeError {
  override name = 'ZipLimitError';
}

const MAX_U32 = 0xffffffff;
const MAX_ENTRIES = 0xffff;
/** Local header (30) and data descriptor (16) of one streamed entry, besides its name. */
const LOCAL_OVERHEAD = 30 + 16;
/** Its central directory record, besides its name. */
const CENTRAL_OVERHEAD = 46;
/** S_IFREG | 0644 in the upper 16 bits of the external attributes (unzip then makes ordinary files). */
const EXTERNAL_ATTRS = (0o100644 << 16) >>> 0;
const OS_UNIX = 3;

function checkName(name: string): void {
  const bad = (why: string) => new Error(`zip: bad file name ${JSON.stringify(name)}: ${why}`);
  if (!name) throw bad('empty');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw bad('must be relative');
  if (name.includes('\\')) throw bad('use forward slashes');
  if (name.includes('\0')) throw bad('contains NUL');
  if (name.split('/').some((s) => s === '.' || s === '..' || s === '')) throw bad('empty, "." or ".." path segment');
}

/** A date fflate can write (DOS dates run from 1980; fflate refuses years past 2099). */
function zipDate(d: Date): Date {
  const y = d.getFullYear();
  if (!(y >= 1980)) return new Date(1980, 0, 1);
  if (y > 2099) return new Date(2099, 11, 31, 23, 59, 58);
  return d;
}

/** fflate's Zip with stored entries, sizes counted against the no-ZIP64 limits; chunks go to `emit` synchronously. */
class StoredZip {
  private readonly zip: Zip;
  private readonly names = new Set<string>();
  private readonly date: Date;
  /** Bytes of the archive so far, counting entries still buffered by fflate, plus their central records. */
  private total = 22;
  private failure: Error | null = null;

  constructor(emit: (chunk: Uint8Array) => void, date: Date) {
    this.date = zipDate(date);
    this.zip = new Zip((err, chunk) => {
      if (err) this.failure = err;
      else emit(chunk);
    });
  }

  add(name: string): (chunk: Uint8Array, final: boolean) => void {
    checkName(name);
    if (this.names.has(name)) throw new Error(`zip: duplicate file name ${JSON.stringify(name)}`);
    if (this.names.size + 1 >= MAX_ENTRIES) throw new ZipLimitError(`zip: ${name}: more than ${MAX_ENTRIES - 1} files need ZIP64, which is not written`);
    this.names.add(name);
    const nameBytes = new TextEncoder().encode(name).length;
    this.grow(name, LOCAL_OVERHEAD + CENTRAL_OVERHEAD + 2 * nameBytes);
    const entry = new ZipPassThrough(name);
    entry.mtime = this.date;
    entry.os = OS_UNIX;
    entry.attrs = EXTERNAL_ATTRS;
    this.zip.add(entry);
    let size = 0;
    return (chunk, final) => {
      size += chunk.byteLength;
      if (size >= MAX_U32) throw new ZipLimitError(`zip: ${name} is 4 GiB or more, which needs ZIP64 (not written)`);
      this.grow(name, chunk.byteLength);
      entry.push(chunk, final);
      this.check();
    };
  }

  end(): void {
    this.zip.end();
    this.check();
  }

  private grow(name: string, bytes: number): void {
    this.total += bytes;
    if (this.total >= MAX_U32) throw new ZipLimitError(`zip: the archive reaches 4 GiB at ${name}, which needs ZIP64 (not written)`);
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}

/**
 * A .zip streamed into `sink`: create() an entry, write its bytes, close() it; finish() writes the
 * central directory. Entries may be open at once (fflate keeps a later entry's chunks until the
 * earlier ones close). Chunks reach the sink as they are (not copied), in archive order.
 */
export class ZipWriter implements OutputFiles {
  private readonly core: StoredZip;
  private readonly queue: Uint8Array[] = [];
  private drained: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: ByteSink,
    date: Date = new Date(),
  ) {
    this.core = new StoredZip((chunk) => this.queue.push(chunk), date);
  }

  async create(path: string): Promise<OutputFile> {
    const push = this.core.add(path);
    return {
      write: async (bytes) => {
        push(bytes, false);
        await this.drain();
      },
      close: async () => {
        push(new Uint8Array(0), true);
        await this.drain();
      },
    };
  }

  /** Ends the archive (every entry closed). */
  async finish(): Promise<void> {
    this.core.end();
    await this.drain();
  }

  /** Hands the queued chunks to the sink one after another (never two sink writes at once). */
  private drain(): Promise<void> {
    this.drained = this.drained.then(async () => {
      while (this.queue.length) await this.sink.write(this.queue.shift()!);
    });
    return this.drained;
  }
}

/** A .zip of whole files, in order, as one buffer (small archives: an adapter, a recipe). */
export function zipStore(entries: readonly ZipEntry[], date: Date = new Date()): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  const core = new StoredZip((c) => chunks.push(c), date);
  const enc = new TextEncoder();
  for (const e of entries) core.add(e.name)(typeof e.data === 'string' ? enc.encode(e.data) : e.data, true);
  core.end();
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
