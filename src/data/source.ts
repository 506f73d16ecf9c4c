// Byte sources and a streaming UTF-8 line reader. Runs in a browser worker and in Node: no Node APIs.
import { DatasetError } from './errors';

/**
 * Anything the pipeline can read a file from, chunk by chunk:
 * a browser `File`/`Blob`, `file.stream()`, a Node `fs.createReadStream()` (async iterable of Buffers),
 * any (async) iterable of byte chunks, one `Uint8Array`, or an already-decoded string (tests).
 */
export type ByteSource =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array
  | Blob
  | string;

/** Iterates the byte chunks of a source without ever concatenating them. */
export async function* iterateChunks(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (typeof source === 'string') {
    yield new TextEncoder().encode(source);
    return;
  }
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    yield* iterateChunks(source.stream() as ReadableStream<Uint8Array>);
    return;
  }
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    // Not every browser makes ReadableStream async-iterable; use the reader.
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (value && value.length) yield value;
      }
    } finally {
      reader.releaseLock();
    }
    return;
  }
  if (Symbol.asyncIterator in (source as object)) {
    for await (const chunk of source as AsyncIterable<Uint8Array>) if (chunk.length) yield chunk;
    return;
  }
  for (const chunk of source as Iterable<Uint8Array>) if (chunk.length) yield chunk;
}

export interface TextLine {
  /** 1-based physical line number. */
  line: number;
  /** The line without its terminator (`\n` or `\r\n`); empty for a line over MAX_RECORD_CHARS. */
  text: string;
  /** The line had more than MAX_RECORD_CHARS characters: it was skipped unread, not kept. */
  tooLong?: true;
}

export interface ReadProgress {
  bytes: number;
  lines: number;
}

/**
 * Longest line (and record) read, in characters: far above any real training record (128k tokens
 * are ~0.5 M characters) and small enough that tokenizing one stays well under 1 GB. A longer line
 * is skipped as it streams by, never held whole.
 */
export const MAX_RECORD_CHARS = 1 << 22;
/** Largest dataset file: its prepared tokens are kept in memory (a 2 GiB file is ~0.5 G tokens). */
export const MAX_DATASET_BYTES = 2 ** 31;

/** Why a record over MAX_RECORD_CHARS is refused (the same words for a line and a JSON element). */
export const TOO_LONG = `longer than the ${MAX_RECORD_CHARS} characters a record may have`;

/**
 * Decodes UTF-8 chunk by chunk and yields physical lines with their 1-based numbers.
 * Only the current partial line is kept between chunks. A leading BOM is dropped.
 * Throws DatasetError on a NUL byte (binary file), invalid UTF-8 or a file over MAX_DATASET_BYTES.
 */
export async function* readLines(
  source: ByteSource,
  onProgress?: (p: ReadProgress) => void,
): AsyncGenerator<TextLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let carry = '';
  let line = 1;
  let bytes = 0;
  let skipping = false; // inside a line over MAX_RECORD_CHARS: its text is dropped
  const decode = (chunk: Uint8Array | undefined, stream: boolean): string => {
    try {
      return chunk ? decoder.decode(chunk, { stream }) : decoder.decode();
    } catch {
      let at = line + countNewlines(carry);
      if (chunk) {
        const bad = firstInvalidUtf8(chunk);
        for (let i = 0; i < bad; i++) if (chunk[i] === 10) at++;
      }
      throw new DatasetError(`line ${at}: ${notUtf8Reason(chunk, at === 1)}`);
    }
  };
  for await (const chunk of iterateChunks(source)) {
    const nul = chunk.indexOf(0);
    if (nul >= 0) {
      if (bytes === 0 && (utf16Bom(chunk) || looksUtf16(chunk))) throw new DatasetError(`line 1: ${notUtf8Reason(chunk, true)}`);
      // Decode what precedes the NUL only to count lines for the message.
      let at = line + countNewlines(carry);
      try {
        at += countNewlines(new TextDecoder().decode(chunk.subarray(0, nul)));
      } catch {
        /* ignore */
      }
      throw new DatasetError(
        `line ${at}: NUL byte: this looks like a binary file, not a text dataset (.jsonl, .json, .csv, .tsv, .txt)`,
      );
    }
    bytes += chunk.length;
    if (bytes > MAX_DATASET_BYTES) throw new DatasetError(`the file has more than the ${MAX_DATASET_BYTES} bytes a dataset may have; split it`);
    carry += decode(chunk, true);
    let start = 0;
    for (;;) {
      const nl = carry.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && carry.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (skipping) {
        skipping = false;
        yield { line: line++, text: '', tooLong: true };
      } else if (end - start > MAX_RECORD_CHARS) yield { line: line++, text: '', tooLong: true };
      else yield { line: line++, text: carry.slice(start, end) };
      start = nl + 1;
    }
    carry = start ? carry.slice(start) : carry;
    if (carry.length > MAX_RECORD_CHARS) {
      skipping = true;
      carry = '';
    }
    onProgress?.({ bytes, lines: line - 1 });
  }
  carry += decode(undefined, false);
  if (skipping || carry.length > MAX_RECORD_CHARS) yield { line: line++, text: '', tooLong: true };
  else if (carry.length) yield { line: line++, text: carry.endsWith('\r') ? carry.slice(0, -1) : carry };
  onProgress?.({ bytes, lines: line - 1 });
}

/** A UTF-16 byte-order mark (FF FE or FE FF) at the start of `b`. */
function utf16Bom(b: Uint8Array): boolean {
  return b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff));
}

/** Text in UTF-16 without a byte-order mark: most of the first 64 byte pairs are one ASCII byte and one NUL. */
function looksUtf16(b: Uint8Array): boolean {
  const pairs = Math.min(32, b.length >> 1);
  let le = 0;
  let be = 0;
  for (let i = 0; i < pairs; i++) {
    const [x, y] = [b[2 * i], b[2 * i + 1]];
    if (y === 0 && x > 0 && x < 0x80) le++;
    if (x === 0 && y > 0 && y < 0x80) be++;
  }
  return pairs >= 2 && Math.max(le, be) >= pairs * 0.75;
}

/** Why bytes are not UTF-8 text, naming UTF-16 when the file starts like it. */
function notUtf8Reason(chunk: Uint8Array | undefined, first: boolean): string {
  if (first && chunk && (utf16Bom(chunk) || looksUtf16(chunk))) return 'this file is UTF-16, not UTF-8; save it as UTF-8';
  return 'invalid UTF-8: this is not a UTF-8 text file (a binary file, or another encoding; save it as UTF-8)';
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** Index of the first byte that starts an invalid UTF-8 sequence (or the length if none is found). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    if (i + n >= b.length) return b.length; // a sequence cut by the chunk end
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return b.length;
}
