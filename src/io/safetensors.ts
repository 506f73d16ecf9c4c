// safetensors reader and writer (https://github.com/huggingface/safetensors), validating what the
// reference Rust loader validates. Runs in Node and in the browser: no `node:` imports here.
//
// File layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
// The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data buffer) plus an optional `__metadata__` string→string map. Tensors, sorted by offset,
// must tile the data buffer exactly: first begin 0, each begin = previous end, last end = buffer
// length, and each size = product(shape) × dtype size.

import { parseUntrustedJson } from './untrusted/json';
import { decodeToF32, encodeF32As, type FloatDtype, type FloatFormat } from './dtype';

/** Error for any malformed or unsupported safetensors file; the message names the file and the tensor or field. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** A random-access byte source, so that big files are read tensor by tensor. */
export interface ByteSource {
  /** Shown in error messages (a file name). */
  name: string;
  /** Total size in bytes. */
  size: number;
  /** Exactly `length` bytes from `offset`; rejects when the range is outside [0, size]. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export type Dtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'BOOL'
  | 'U16'
  | 'U32'
  | 'U64'
  | 'F8_E4M3'
  | 'F8_E5M2';

/** Bytes per element of each dtype the reference knows. */
export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The reference writer's dtype order (increasing alignment); it writes in descending order. */
const DTYPE_RANK: Readonly<Record<Dtype, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  F8_E5M2: 3,
  F8_E4M3: 4,
  I16: 5,
  U16: 6,
  F16: 7,
  BF16: 8,
  I32: 9,
  U32: 10,
  F32: 11,
  F64: 12,
  I64: 13,
  U64: 14,
};

/** The dtypes that readTensorF32 converts. */
export const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file: [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsIndex {
  /** The source name, for error messages. */
  name: string;
  /** Header length N (the JSON starts at byte 8). */
  headerLength: number;
  /** Tensors in order of offset. */
  tensors: Map<string, TensorInfo>;
  /** `__metadata__`, or null when the header has none. */
  metadata: Record<string, string> | null;
}

/** As the reference's MAX_HEADER_SIZE. */
export const MAX_HEADER_SIZE = 100_000_000;

const fail = (file: string, msg: string): never => {
  throw new SafetensorsError(`${file}: ${msg}`);
};

// ---------------------------------------------------------------------------------------------
// Sources

/** A ByteSource over bytes already in memory (reads are views, not copies). */
export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** Throws unless [offset, offset + length) lies inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    fail(name, `read of ${length} bytes at offset ${offset} is outside the file (${size} bytes)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Header

/** Reads and validates the header of a safetensors source (reads only 8 + N bytes). */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsIndex> {
  const file = src.name;
  if (!Number.isSafeInteger(src.size) || src.size < 8) {
    fail(file, `file is ${src.size} bytes, too small for the 8-byte header length`);
  }
  const n = headerLengthOf(file, await readExact(src, 0, 8), src.size);
  const header = await readExact(src, 8, n);
  return parseHeader(file, header, src.size);
}

async function readExact(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await src.read(offset, length);
  if (bytes.byteLength !== length) fail(src.name, `read of ${length} bytes at offset ${offset} returned ${bytes.byteLength}`);
  return bytes;
}

function headerLengthOf(file: string, first8: Uint8Array, fileSize: number): number {
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // may be inexact above 2^53, but then it is far above the cap anyway
  if (hi >= 2 ** 21 || n > MAX_HEADER_SIZE) {
    fail(file, `header length ${hi >= 2 ** 21 ? `${BigInt(hi) * 2n ** 32n + BigInt(lo)}` : n} exceeds the maximum of ${MAX_HEADER_SIZE} bytes`);
  }
  if (8 + n > fileSize) fail(file, `header length ${n} runs past the end of the file (${fileSize} bytes)`);
  return n;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseHeader(file: string, header: Uint8Array, fileSize: number): SafetensorsIndex {
  const n = header.byteLength;
  let text: string;
  try {
    text = utf8.decode(header);
  } catch {
    return fail(file, 'header is not valid UTF-8');
  }
  // Size was checked against MAX_HEADER_SIZE and the file; depth is checked before parsing.
  const json = parseUntrustedJson(text, file, { maxBytes: MAX_HEADER_SIZE }, (_field, detail) => fail(file, `header ${detail}`));
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail(file, 'header is not a JSON object');
  }
  const dup = findDuplicateKey(text);
  if (dup !== null) fail(file, `header has duplicate key ${JSON.stringify(dup.key)}${dup.path ? ` in ${dup.path}` : ''}`);

  let metadata: Record<string, string> | null = null;
  const entries: Array<[string, TensorInfo]> = [];
  const dataStart = 8 + n;
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (key === '__metadata__') {
      metadata = parseMetadata(file, value);
      continue;
    }
    entries.push([key, parseTensorInfo(file, key, value)]);
  }

  // As the reference: order by (begin, end), then the tensors must tile the data buffer.
  entries.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let expect = 0;
  for (const [key, info] of entries) {
    if (info.begin !== expect) {
      fail(
        file,
        info.begin > expect
          ? `tensor "${key}": data_offsets [${info.begin}, ${info.end}] leave a gap: the previous tensor ends at ${expect}`
          : `tensor "${key}": data_offsets [${info.begin}, ${info.end}] overlap the previous tensor, which ends at ${expect}`,
      );
    }
    expect = info.end;
  }
  const dataLength = fileSize - dataStart;
  if (expect !== dataLength) {
    fail(
      file,
      expect < dataLength
        ? `tensors cover ${expect} bytes of data but the file holds ${dataLength} (${dataLength - expect} trailing bytes)`
        : `tensors need ${expect} bytes of data but the file holds only ${dataLength} (truncated file?)`,
    );
  }

  const tensors = new Map<string, TensorInfo>();
  for (const [key, info] of entries) {
    tensors.set(key, { dtype: info.dtype, shape: info.shape, begin: info.begin + dataStart, end: info.end + dataStart });
  }
  return { name: file, headerLength: n, tensors, metadata };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(file, '__metadata__ must be an object of strings');
  }
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(file, `__metadata__ "${k}" must be a string, not ${describe(v)}`);
    out.push([k, v as string]);
  }
  return Object.fromEntries(out);
}

/** Parses one header entry; offsets stay relative to the data buffer. */
function parseTensorInfo(file: string, key: string, value: unknown): TensorInfo {
  const where = `tensor "${key}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(file, `${where}: entry must be an object with dtype, shape and data_offsets, not ${describe(value)}`);
  }
  const v = value as Record<string, unknown>;
  if (!('dtype' in v)) fail(file, `${where}: missing dtype`);
  if (!('shape' in v)) fail(file, `${where}: missing shape`);
  if (!('data_offsets' in v)) fail(file, `${where}: missing data_offsets`);
  const dtype = v.dtype;
  if (!isDtype(dtype)) {
    return fail(file, `${where}: unknown dtype ${describe(dtype)} (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  const shape = v.shape;
  if (!Array.isArray(shape)) return fail(file, `${where}: shape must be a list of non-negative integers, not ${describe(shape)}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(file, `${where}: shape ${JSON.stringify(shape)} has dimension ${describe(d)}; dimensions must be non-negative integers`);
    }
  }
  const offs = v.data_offsets;
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    return fail(file, `${where}: data_offsets must be [begin, end] of non-negative integers, not ${describe(offs)}`);
  }
  const [begin, end] = offs as [number, number];
  if (end < begin) fail(file, `${where}: data_offsets [${begin}, ${end}] are out of order (end before begin)`);
  let elems = 1;
  for (const d of shape as number[]) {
    elems *= d;
    if (!Number.isSafeInteger(elems)) fail(file, `${where}: shape ${shapeStr(shape as number[])} overflows`);
  }
  const need = elems * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(need)) fail(file, `${where}: shape ${shapeStr(shape as number[])} ${dtype} overflows`);
  if (end - begin !== need) {
    fail(
      file,
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${shapeStr(shape as number[])} ${dtype} needs ${need}`,
    );
  }
  return { dtype, shape: (shape as number[]).slice(), begin, end };
}

/**
 * JSON.parse keeps the last of duplicate keys silently; this scans already-valid JSON text and
 * returns the first key repeated within one object (at any depth), or null.
 */
export function findDuplicateKey(text: string): { key: string; path: string } | null {
  interface Frame {
    obj: boolean;
    keys: Set<string> | null;
    expectKey: boolean;
    name: string;
  }
  const stack: Frame[] = [];
  let lastKey = '';
  const len = text.length;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      stack.push({ obj: true, keys: new Set(), expectKey: true, name: lastKey });
    } else if (c === 0x5b /* [ */) {
      stack.push({ obj: false, keys: null, expectKey: false, name: lastKey });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top && top.obj) top.expectKey = true;
    } else if (c === 0x22 /* " */) {
      const start = i;
      i++;
      while (i < len) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      const top = stack[stack.length - 1];
      if (top && top.obj && top.expectKey) {
        const raw = text.slice(start, i + 1);
        const key = raw.indexOf('\\') >= 0 ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys!.has(key)) {
          const path = stack
            .slice(1)
            .map((f) => JSON.stringify(f.name))
            .join(' > ');
          return { key, path };
        }
        top.keys!.add(key);
        top.expectKey = false;
        lastKey = key;
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Tensor data

/** Reads one tensor and converts F32/F16/BF16/F64 to f32 (exact for F16/BF16; F64 rounds to nearest). */
export async function readTensorF32(src: ByteSource, index: SafetensorsIndex, name: string): Promise<Float32Array> {
  const info = index.tensors.get(name);
  if (!info) return fail(src.name, `tensor "${name}" is not in the file`);
  if (!FLOAT_DTYPES.includes(info.dtype)) {
    fail(src.name, `tensor "${name}": dtype ${info.dtype} cannot be read as floats (supported: ${FLOAT_DTYPES.join(', ')})`);
  }
  if (info.end > src.size) fail(src.name, `tensor "${name}": data ends at ${info.end}, past the end of the file (${src.size} bytes)`);
  const bytes = await readExact(src, info.begin, info.end - info.begin);
  return decodeF32(src.name, name, info.dtype, bytes);
}

/** Converts raw little-endian F32/F16/BF16/F64 bytes to a new Float32Array (src/io/dtype.ts), naming the tensor on failure. */
export function decodeF32(file: string, tensor: string, dtype: Dtype, bytes: Uint8Array): Float32Array {
  if (!FLOAT_DTYPES.includes(dtype)) {
    return fail(file, `tensor "${tensor}": dtype ${dtype} cannot be read as floats (supported: ${FLOAT_DTYPES.join(', ')})`);
  }
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) fail(file, `tensor "${tensor}": ${bytes.byteLength} bytes is not a whole number of ${dtype}`);
  return decodeToF32(bytes, dtype as FloatDtype);
}

// ---------------------------------------------------------------------------------------------
// Whole files in memory

export interface ParsedSafetensors {
  index: SafetensorsIndex;
  metadata: Record<string, string> | null;
  /** Tensor names in order of offset. */
  names(): string[];
  /** A view of the tensor's raw bytes. */
  raw(name: string): Uint8Array;
  /** The tensor converted to f32 (F32, F16, BF16, F64). */
  f32(name: string): Float32Array;
}

/** Parses a whole safetensors file held in memory (validates the header; converts tensors on demand). */
export function parseSafetensors(name: string, bytes: Uint8Array): ParsedSafetensors {
  if (bytes.byteLength < 8) fail(name, `file is ${bytes.byteLength} bytes, too small for the 8-byte header length`);
  const n = headerLengthOf(name, bytes.subarray(0, 8), bytes.byteLength);
  const index = parseHeader(name, bytes.subarray(8, 8 + n), bytes.byteLength);
  const info = (t: string): TensorInfo => index.tensors.get(t) ?? fail(name, `tensor "${t}" is not in the file`);
  return {
    index,
    metadata: index.metadata,
    names: () => [...index.tensors.keys()],
    raw: (t) => {
      const i = info(t);
      return bytes.subarray(i.begin, i.end);
    },
    f32: (t) => {
      const i = info(t);
      return decodeF32(name, t, i.dtype, bytes.subarray(i.begin, i.end));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Writer

const WRITE_FORMAT: Record<TensorToWrite['dtype'], FloatFormat> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  data: Float32Array;
}

/**
 * Serializes tensors as the reference writer does: ordered by descending dtype alignment then
 * name, `__metadata__` first, header padded with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>, file = 'safetensors'): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name === '') fail(file, 'tensor name must be a non-empty string');
    if (t.name === '__metadata__') fail(file, 'tensor name "__metadata__" is reserved');
    if (seen.has(t.name)) fail(file, `duplicate tensor "${t.name}"`);
    seen.add(t.name);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      fail(file, `tensor "${t.name}": dtype ${describe(t.dtype)} cannot be written (supported: F32, F16, BF16)`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(file, `tensor "${t.name}": shape ${describe(t.shape)} must be a list of non-negative integers`);
    }
    const elems = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array)) fail(file, `tensor "${t.name}": data must be a Float32Array`);
    if (elems !== t.data.length) {
      fail(file, `tensor "${t.name}": shape ${shapeStr(t.shape)} needs ${elems} values but data has ${t.data.length}`);
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(file, `__metadata__ "${k}" must be a string, not ${describe(v)}`);
    }
  }

  const order = [...tensors].sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries: Array<[string, unknown]> = [];
  if (metadata !== undefined) entries.push(['__metadata__', metadata]);
  let offset = 0;
  for (const t of order) {
    const nbytes = t.data.length * DTYPE_SIZE[t.dtype];
    entries.push([t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] }]);
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries)));
  const pad = (8 - (json.byteLength % 8)) % 8;
  const n = json.byteLength + pad;
  const out = new Uint8Array(8 + n + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n % 2 ** 32, true);
  dv.setUint32(4, Math.floor(n / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + n);

  let at = 8 + n;
  for (const t of order) {
    out.set(encodeF32As(t.data, WRITE_FORMAT[t.dtype]), at);
    at += t.data.length * DTYPE_SIZE[t.dtype];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function shapeStr(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
