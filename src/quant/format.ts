// Block-wise weight quantization for frozen base weights (CPU side; shaders/matmul_q.wgsl reads
// the same layout).
//
// A weight is (rows, cols) = (out_features, in_features) in PyTorch order (an embedding or lm_head
// is (vocab, hidden): rows = vocab). Quantization runs along `cols` (the `in` dimension, the one a
// matmul reduces over) in blocks of 32 values; every block has one f32 scale.
//
//   blocksPerRow = ceil(cols / 32)
//   paddedCols   = blocksPerRow * 32
//
// When cols is not a multiple of 32, the last block of each row is padded with zeros: the scale is
// computed from the real values only, and the padding is stored as the code of 0 (0 for int8, 8 for
// int4), so it dequantizes to exactly 0.0 and adds nothing to a dot product.
//
// int8 (symmetric, per-block absmax):
//   scale = max|x| / 127            (0 when the block is all zeros)
//   q     = clamp(round(x / scale), -127, 127)     (-128 never occurs)
//   x'    = q * scale
//   Packing: 4 values per u32, little-endian bytes: byte j (bits 8j..8j+7) of word w of a row holds
//   column 4w + j as an 8-bit two's-complement integer. A row is blocksPerRow * 8 words.
//   Bits per weight: 8 + 32/32 = 9.
//
// int4 (Q4_0-like, symmetric, per-block signed absmax, 16 levels):
//   m     = the value of the block with the largest |x|, sign kept
//   scale = m / -8                   (may be negative; 0 when the block is all zeros)
//   q     = clamp(floor(x / scale + 8.5), 0, 15)   (stored unsigned, offset by 8)
//   x'    = (q - 8) * scale
//   So m itself maps exactly to code 0 (-8 * scale = m), and the 16 codes cover [-8, 7] * scale:
//   one more level than a plain absmax/7 scheme, as in llama.cpp's Q4_0 (and ONNX MatMulNBits with
//   zero point 8). Values of the opposite sign clamp at 7 * |scale| = 7/8 |m|.
//   Packing: 8 values per u32, little-endian nibbles: nibble j (bits 4j..4j+3) of word w of a row
//   holds column 8w + j. A row is blocksPerRow * 4 words. (Q4_0 proper puts columns 0-15 in the low
//   nibbles of 16 bytes and 16-31 in the high ones; ours is sequential, which makes the shader simple.)
//   Bits per weight: 4 + 32/32 = 5.
//
// Scales: a Float32Array of rows * blocksPerRow, row-major (scale of block b of row r at
// r * blocksPerRow + b).
//
// A row range [r0, r1) of a quantized tensor is contiguous in both arrays, which is what lets the
// store chunk tensors by rows and the GPU kernels split a large tensor into row-range bindings.

export type QuantKind = 'int8' | 'int4';

export const QUANT_BLOCK = 32;

export interface QuantizedTensor {
  kind: QuantKind;
  rows: number;
  cols: number;
  /** rows * wordsPerRow(kind, cols) packed words. */
  qweight: Uint32Array;
  /** rows * blocksPerRow(cols) f32 scales. */
  scales: Float32Array;
}

export function blocksPerRow(cols: number): number {
  return Math.ceil(cols / QUANT_BLOCK);
}

/** u32 words per block: 8 for int8 (32 bytes), 4 for int4 (16 bytes). */
export function wordsPerBlock(kind: QuantKind): number {
  return kind === 'int8' ? 8 : 4;
}

export function wordsPerRow(kind: QuantKind, cols: number): number {
  return blocksPerRow(cols) * wordsPerBlock(kind);
}

/** Bytes of the packed codes of `rows` rows. */
export function qBytes(kind: QuantKind, rows: number, cols: number): number {
  return rows * wordsPerRow(kind, cols) * 4;
}

/** Bytes of the scales of `rows` rows. */
export function scaleBytes(rows: number, cols: number): number {
  return rows * blocksPerRow(cols) * 4;
}

/**
 * Quantizes a row-major (rows, cols) f32 matrix. `data` may hold exactly rows*cols values; rows are
 * quantized independently, so a large tensor can be quantized a few rows at a time and the parts
 * concatenated (see concatRows).
 */
export function quantize(data: Float32Array, rows: number, cols: number, kind: QuantKind): QuantizedTensor {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols <= 0) {
    throw new RangeError(`quantize: bad shape (${rows}, ${cols})`);
  }
  if (data.length !== rows * cols) throw new RangeError(`quantize: ${data.length} values for shape (${rows}, ${cols})`);
  const bpr = blocksPerRow(cols);
  const wpr = wordsPerRow(kind, cols);
  const qweight = new Uint32Array(rows * wpr);
  const scales = new Float32Array(rows * bpr);
  for (let r = 0; r < rows; r++) {
    const rowBase = r * cols;
    for (let b = 0; b < bpr; b++) {
      const base = rowBase + b * QUANT_BLOCK;
      const n = Math.min(QUANT_BLOCK, cols - b * QUANT_BLOCK);
      // Largest magnitude (and, for int4, its signed value); NaN and ±Inf are refused.
      let amax = 0;
      let m = 0;
      for (let j = 0; j < n; j++) {
        const v = data[base + j];
        const a = v < 0 ? -v : v;
        if (!(a <= 3.4028234663852886e38)) throw new RangeError(`quantize: non-finite value ${v} in row ${r}, block ${b}`);
        if (a > amax) {
          amax = a;
          m = v;
        }
      }
      let scale: number;
      if (kind === 'int8') {
        scale = Math.fround(amax / 127);
        const inv = scale !== 0 ? 1 / scale : 0;
        const w0 = r * wpr + b * 8;
        for (let w = 0; w < 8; w++) {
          let word = 0;
          for (let j = 0; j < 4; j++) {
            const c = w * 4 + j;
            if (c >= n) break; // padding: code 0
            let q = Math.round(data[base + c] * inv);
            q = q < -127 ? -127 : q > 127 ? 127 : q;
            word |= (q & 0xff) << (8 * j);
          }
          qweight[w0 + w] = word >>> 0;
        }
      } else {
        scale = m === 0 ? 0 : Math.fround(m / -8);
        const inv = scale !== 0 ? 1 / scale : 0;
        const w0 = r * wpr + b * 4;
        for (let w = 0; w < 4; w++) {
          let word = 0;
          for (let j = 0; j < 8; j++) {
            const c = w * 8 + j;
            // floor(x + 8.5) clamped to [0, 15]; truncation equals floor wherever the clamp keeps it.
            let q = c < n ? (data[base + c] * inv + 8.5) | 0 : 8;
            q = q < 0 ? 0 : q > 15 ? 15 : q;
            word |= q << (4 * j);
          }
          qweight[w0 + w] = word >>> 0;
        }
      }
      scales[r * bpr + b] = scale;
    }
  }
  return { kind, rows, cols, qweight, scales };
}

/** The f32 value of column c of row r (CPU reference for the shader's decode). */
export function dequantizeAt(qt: QuantizedTensor, r: number, c: number): number {
  const bpr = blocksPerRow(qt.cols);
  const scale = qt.scales[r * bpr + Math.floor(c / QUANT_BLOCK)];
  const wpr = wordsPerRow(qt.kind, qt.cols);
  if (qt.kind === 'int8') {
    const word = qt.qweight[r * wpr + (c >> 2)];
    const byte = (word >>> (8 * (c & 3))) & 0xff;
    return Math.fround(((byte << 24) >> 24) * scale);
  }
  const word = qt.qweight[r * wpr + (c >> 3)];
  const nib = (word >>> (4 * (c & 7))) & 0xf;
  return Math.fround((nib - 8) * scale);
}

/** Decodes rows [r0, r1) into a row-major (r1 - r0, cols) f32 array (the CPU twin of the GPU decode). */
export function dequantizeRows(qt: QuantizedTensor, r0: number, r1: number, out?: Float32Array): Float32Array {
  const { cols } = qt;
  const res = out ?? new Float32Array((r1 - r0) * cols);
  const bpr = blocksPerRow(cols);
  const wpr = wordsPerRow(qt.kind, cols);
  for (let r = r0; r < r1; r++) {
    const o = (r - r0) * cols;
    const qw = r * wpr;
    for (let c = 0; c < cols; c++) {
      const scale = qt.scales[r * bpr + (c >> 5)];
      let v: number;
      if (qt.kind === 'int8') {
        const byte = (qt.qweight[qw + (c >> 2)] >>> (8 * (c & 3))) & 0xff;
        v = ((byte << 24) >> 24) * scale;
      } else {
        v = (((qt.qweight[qw + (c >> 3)] >>> (4 * (c & 7))) & 0xf) - 8) * scale;
      }
      res[o + c] = v;
    }
  }
  return res;
}

/** Decodes the whole tensor to a row-major (rows, cols) f32 array. */
export function dequantize(qt: QuantizedTensor): Float32Array {
  return dequantizeRows(qt, 0, qt.rows);
}

/** Stacks row ranges of the same kind and width (the inverse of quantizing a few rows at a time). */
export function concatRows(parts: QuantizedTensor[]): QuantizedTensor {
  if (parts.length === 0) throw new RangeError('concatRows: no parts');
  const { kind, cols } = parts[0];
  let rows = 0;
  for (const p of parts) {
    if (p.kind !== kind || p.cols !== cols) throw new RangeError('concatRows: parts differ in kind or width');
    rows += p.rows;
  }
  const qweight = new Uint32Array(rows * wordsPerRow(kind, cols));
  const scales = new Float32Array(rows * blocksPerRow(cols));
  let qo = 0;
  let so = 0;
  for (const p of parts) {
    qweight.set(p.qweight, qo);
    scales.set(p.scales, so);
    qo += p.qweight.length;
    so += p.scales.length;
  }
  return { kind, rows, cols, qweight, scales };
}

/**
 * Serializes rows as one byte run: the codes of all rows, then their scales (the store's segment
 * layout). Little-endian, as typed arrays are on every platform WebGPU runs on.
 */
export function packQuantized(qt: QuantizedTensor): Uint8Array {
  const out = new Uint8Array(qt.qweight.byteLength + qt.scales.byteLength);
  out.set(new Uint8Array(qt.qweight.buffer, qt.qweight.byteOffset, qt.qweight.byteLength), 0);
  out.set(new Uint8Array(qt.scales.buffer, qt.scales.byteOffset, qt.scales.byteLength), qt.qweight.byteLength);
  return out;
}

/** Reads back what packQuantized wrote (copies, so the result is 4-byte aligned). */
export function unpackQuantized(bytes: Uint8Array, kind: QuantKind, rows: number, cols: number): QuantizedTensor {
  const qb = qBytes(kind, rows, cols);
  const sb = scaleBytes(rows, cols);
  if (bytes.byteLength !== qb + sb) {
    throw new RangeError(`quantized ${kind} (${rows}, ${cols}) needs ${qb + sb} bytes, got ${bytes.byteLength}`);
  }
  const copy = bytes.slice();
  return {
    kind,
    rows,
    cols,
    qweight: new Uint32Array(copy.buffer, 0, qb / 4),
    scales: new Float32Array(copy.buffer, qb, sb / 4),
  };
}
