// Element types of stored and source tensors, and conversions to and from f32, row range by row
// range (the importer never holds a whole model, or a whole large tensor, in f32).

/** safetensors dtypes the importer reads. */
export type SourceDtype = 'F32' | 'F16' | 'BF16';

/** How a tensor is stored: quantized, or as plain floats. */
export type StoredFormat = 'int8' | 'int4' | 'f32' | 'f16' | 'bf16';

export function dtypeBytes(d: SourceDtype | 'f32' | 'f16' | 'bf16'): number {
  return d === 'F32' || d === 'f32' ? 4 : 2;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half bits → f32 value. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// Lookup table: 65536 halves → f32 (256 KiB, built on first use).
let f16Table: Float32Array | null = null;
function table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16ToF32(i);
  }
  return f16Table;
}

/** f32 → IEEE half bits, round to nearest even; overflow → ±Inf. */
export function f32ToF16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** f32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Largest finite half. */
export const F16_MAX = 65504;

/**
 * Decodes little-endian raw tensor bytes to f32. `bytes` may have any alignment (the bytes of a
 * tensor inside a safetensors file need not be aligned to 4).
 */
export function decodeToF32(bytes: Uint8Array, dtype: SourceDtype | 'f32' | 'f16' | 'bf16', out?: Float32Array): Float32Array {
  const size = dtypeBytes(dtype);
  if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
  const n = bytes.byteLength / size;
  const res = out ?? new Float32Array(n);
  if (dtype === 'F32' || dtype === 'f32') {
    if (bytes.byteOffset % 4 === 0) res.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
    else new Uint8Array(res.buffer, res.byteOffset, n * 4).set(bytes);
    return res;
  }
  const u16 =
    bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.slice().buffer, 0, n);
  if (dtype === 'BF16' || dtype === 'bf16') {
    const u32 = new Uint32Array(res.buffer, res.byteOffset, n);
    for (let i = 0; i < n; i++) u32[i] = u16[i] << 16;
  } else {
    const t = table();
    for (let i = 0; i < n; i++) res[i] = t[u16[i]];
  }
  return res;
}

/** Encodes f32 values as f16 or bf16 bytes (little-endian). */
export function encodeF32As(data: Float32Array, format: 'f32' | 'f16' | 'bf16'): Uint8Array {
  if (format === 'f32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const u16 = new Uint16Array(data.length);
  if (format === 'bf16') for (let i = 0; i < data.length; i++) u16[i] = f32ToBf16(data[i]);
  else for (let i = 0; i < data.length; i++) u16[i] = f32ToF16(data[i]);
  return new Uint8Array(u16.buffer);
}
