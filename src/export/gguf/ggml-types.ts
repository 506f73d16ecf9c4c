// ggml tensor types the exporter writes, their byte sizes, and the f32 → block encoders.
//
// Q8_0 block (34 bytes): f16 d, int8 q[32];            x = q * d
// Q4_0 block (18 bytes): f16 d, u8 qs[16];             x = (nibble - 8) * d
//   qs[j] holds column j in its low nibble and column j + 16 in its high nibble (ggml's layout,
//   unlike the studio's int4 words, whose nibbles run sequentially: src/quant/format.ts).
// The studio's int8/int4 quantizers use ggml's own rules (int8: d = absmax/127, round; int4: d =
// signed absmax / -8, floor(x/d + 8.5) clamped to 0..15), so a studio-quantized row is repacked into
// these blocks code for code; only the scale is rounded from f32 to f16 (see repackQuantized).

import { blocksPerRow, QUANT_BLOCK, wordsPerRow, type QuantizedTensor } from '../../quant/format';
import { f32ToF16Bits } from '../../io/dtype';

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
}

export type ExportType = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const EXPORT_TYPES: readonly ExportType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

/** GGUF `general.file_type` (llama_ftype) of a file whose 2-D weights are mostly this type. */
export const FILE_TYPE: Record<ExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

export const GGML_TYPE: Record<ExportType, GgmlType> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  q8_0: GgmlType.Q8_0,
  q4_0: GgmlType.Q4_0,
};

const BLOCK_BYTES = { [GgmlType.Q8_0]: 34, [GgmlType.Q4_0]: 18 } as const;

export function isBlockType(t: GgmlType): t is GgmlType.Q8_0 | GgmlType.Q4_0 {
  return t === GgmlType.Q8_0 || t === GgmlType.Q4_0;
}

/** Bytes of a tensor of `shape` (PyTorch order: the last dimension is the innermost). */
export function ggmlTypeBytes(type: GgmlType, shape: readonly number[], name = 'tensor'): number {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (type) {
    case GgmlType.F32:
      return 4 * n;
    case GgmlType.F16:
      return 2 * n;
    case GgmlType.Q8_0:
    case GgmlType.Q4_0: {
      const cols = shape[shape.length - 1];
      if (cols % QUANT_BLOCK !== 0) throw new RangeError(`GGUF: tensor "${name}": ${cols} columns is not a multiple of ${QUANT_BLOCK}`);
      return (n / QUANT_BLOCK) * BLOCK_BYTES[type];
    }
  }
}

export function encodeF32(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

export function encodeF16(data: Float32Array): Uint8Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16Bits(data[i]);
  return new Uint8Array(out.buffer);
}

/**
 * Repacks a studio-quantized tensor (src/quant/format.ts) into Q8_0 / Q4_0 blocks: the same codes,
 * the scale rounded to f16. cols must be a multiple of 32 (ggml has no padded blocks).
 */
export function repackQuantized(qt: QuantizedTensor): Uint8Array {
  const { rows, cols } = qt;
  if (cols % QUANT_BLOCK !== 0) throw new RangeError(`GGUF: ${cols} columns is not a multiple of ${QUANT_BLOCK}`);
  const bpr = blocksPerRow(cols);
  const wpr = wordsPerRow(qt.kind, cols);
  const blockBytes = qt.kind === 'int8' ? 34 : 18;
  const out = new Uint8Array(rows * bpr * blockBytes);
  const dv = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < bpr; b++) {
      const o = (r * bpr + b) * blockBytes;
      dv.setUint16(o, f32ToF16Bits(qt.scales[r * bpr + b]), true);
      if (qt.kind === 'int8') {
        const w0 = r * wpr + b * 8;
        for (let c = 0; c < 32; c++) out[o + 2 + c] = (qt.qweight[w0 + (c >> 2)] >>> (8 * (c & 3))) & 0xff;
      } else {
        const w0 = r * wpr + b * 4;
        const nib = (c: number): number => (qt.qweight[w0 + (c >> 3)] >>> (4 * (c & 7))) & 0xf;
        for (let j = 0; j < 16; j++) out[o + 2 + j] = nib(j) | (nib(j + 16) << 4);
      }
    }
  }
  return out;
}
