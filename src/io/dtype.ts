// The one codec for float element types: safetensors dtypes (F32, F16, BF16, F64) and the
// library's stored formats (f32, f16, bf16), to and from f32, for whole tensors or row ranges.
// Little-endian bytes on a little-endian host (every browser and Node platform): typed-array views.

/** safetensors dtypes the engine reads as floats. */
export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

/** A library tensor's plain-float storage. */
export type FloatFormat = 'f32' | 'f16' | 'bf16';

/** How the library stores a tensor: block-quantized, or as plain floats. */
export type StoredFormat = 'int8' | 'int4' | FloatFormat;

/** Bytes per element of a float dtype or format. */
export function floatBytes(d: FloatDtype | FloatFormat): number {
  return d === 'F64' ? 8 : d === 'F32' || d === 'f32' ? 4 : 2;
}

/** Largest finite half. */
export const F16_MAX = 65504;

/** IEEE half bits → number (exact: subnormals, ±0, ±inf, NaN). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1024 + man) * 2 ** (exp - 25);
}

// 65536 halves → f32 (256 KiB, built on first use): decoding a tensor is one lookup per value.
let f16Table: Float32Array | null = null;
function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16BitsToF32(i);
  }
  return f16Table;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 value → bf16 bits, round to nearest even (NaN stays a quiet NaN). */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 value → IEEE half bits, round to nearest even, overflow to ±inf, subnormals kept. */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): value = m × 2^-24.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const full = man | 0x800000; // 24-bit significand
    const shift = 14 - e; // 24-bit significand → 10-bit subnormal field
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && m & 1)) m++;
    return sign | m; // m may carry into the smallest normal: still the right bits
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent, up to inf: correct
  return sign | h;
}

/**
 * Decodes raw little-endian float bytes to f32 (exact for F16/BF16; F64 rounds to nearest).
 * `bytes` may have any alignment (a tensor inside a safetensors file need not be aligned).
 */
export function decodeToF32(bytes: Uint8Array, dtype: FloatDtype | FloatFormat, out?: Float32Array): Float32Array {
  const size = floatBytes(dtype);
  if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
  const n = bytes.byteLength / size;
  const res = out ?? new Float32Array(n);
  if (res.length < n) throw new RangeError(`decodeToF32: ${n} values do not fit an output of ${res.length}`);
  if (dtype === 'F64') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) res[i] = dv.getFloat64(8 * i, true);
    return res;
  }
  if (size === 4) {
    new Uint8Array(res.buffer, res.byteOffset, n * 4).set(bytes);
    return res;
  }
  const u16 = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.slice().buffer, 0, n);
  if (dtype === 'BF16' || dtype === 'bf16') {
    // bf16 is the top half of an f32: shifting the bits up is exact (NaN payloads included).
    const u32 = new Uint32Array(res.buffer, res.byteOffset, n);
    for (let i = 0; i < n; i++) u32[i] = u16[i] << 16;
  } else {
    const t = halfTable();
    for (let i = 0; i < n; i++) res[i] = t[u16[i]];
  }
  return res;
}

/** Encodes f32 values as f32, f16 or bf16 bytes (little-endian, a new buffer). */
export function encodeF32As(data: Float32Array, format: FloatFormat): Uint8Array {
  if (format === 'f32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const u16 = new Uint16Array(data.length);
  const conv = format === 'bf16' ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < data.length; i++) u16[i] = conv(data[i]);
  return new Uint8Array(u16.buffer);
}
