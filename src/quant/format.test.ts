import { describe, expect, it } from 'vitest';
import {
  blocksPerRow,
  concatRows,
  dequantize,
  dequantizeAt,
  packQuantized,
  quantize,
  unpackQuantized,
  wordsPerRow,
  type QuantKind,
} from './format';
import { decodeToF32, encodeF32As, f16BitsToF32 as f16ToF32, f32ToBf16Bits as f32ToBf16, f32ToF16Bits as f32ToF16 } from '../io/dtype';
import { randn, relL2Err, rng } from '../engine/kernels/random';

const kinds: QuantKind[] = ['int8', 'int4'];

describe('quant format', () => {
  for (const kind of kinds) {
    for (const [rows, cols] of [
      [1, 32],
      [7, 64],
      [5, 70],
      [3, 1],
      [16, 576],
    ] as const) {
      it(`${kind} round trip (${rows}, ${cols}) stays within the per-block bound`, () => {
        const x = randn(rows * cols, rows * 131 + cols, 0.05);
        const qt = quantize(x, rows, cols, kind);
        expect(qt.qweight.length).toBe(rows * wordsPerRow(kind, cols));
        expect(qt.scales.length).toBe(rows * blocksPerRow(cols));
        const y = dequantize(qt);
        const bpr = blocksPerRow(cols);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const s = Math.abs(qt.scales[r * bpr + (c >> 5)]);
            // int8: half a step; int4: half a step, or one step for the clamped opposite sign.
            const bound = (kind === 'int8' ? 0.5 : 1) * s * (1 + 1e-6) + 1e-12;
            expect(Math.abs(y[r * cols + c] - x[r * cols + c])).toBeLessThanOrEqual(bound);
            expect(dequantizeAt(qt, r, c)).toBe(y[r * cols + c]);
          }
        }
        // Typical relative error on Gaussian weights: int8 ~ 1%, int4 ~ 10%.
        const rel = relL2Err(y, x);
        expect(rel).toBeLessThan(kind === 'int8' ? 0.012 : 0.13);
      });
    }

    it(`${kind}: the block's largest value is exact, zeros are exact, padding decodes to 0`, () => {
      const cols = 40;
      const x = new Float32Array(cols);
      x[3] = -0.75;
      x[5] = 0.5;
      x[33] = 2;
      const qt = quantize(x, 1, cols, kind);
      const y = dequantize(qt);
      expect(y[3]).toBeCloseTo(-0.75, 6);
      expect(y[33]).toBeCloseTo(2, 6);
      expect(y[0] === 0).toBe(true); // +0 or -0: both add nothing
      expect(y[39] === 0).toBe(true);
      // padding columns 40..63 of the second block hold the code of zero
      const wpr = wordsPerRow(kind, cols);
      const lastWord = qt.qweight[wpr - 1];
      expect(lastWord).toBe(kind === 'int8' ? 0 : 0x88888888);
    });

    it(`${kind}: an all-zero block has scale 0 and decodes to zeros`, () => {
      const qt = quantize(new Float32Array(64), 1, 64, kind);
      expect(Array.from(qt.scales)).toEqual([0, 0]);
      expect(dequantize(qt).every((v) => v === 0)).toBe(true);
    });

    it(`${kind}: row ranges quantize independently (slice, concat, pack)`, () => {
      const rows = 9;
      const cols = 50;
      const x = randn(rows * cols, 5);
      const whole = quantize(x, rows, cols, kind);
      const a = quantize(x.subarray(0, 4 * cols), 4, cols, kind);
      const b = quantize(x.subarray(4 * cols), 5, cols, kind);
      const joined = concatRows([a, b]);
      expect(joined.qweight).toEqual(whole.qweight);
      expect(joined.scales).toEqual(whole.scales);
      const bytes = packQuantized(whole);
      expect(bytes.byteLength).toBe(rows * (wordsPerRow(kind, cols) + blocksPerRow(cols)) * 4);
      const back = unpackQuantized(bytes, kind, rows, cols);
      expect(back.qweight).toEqual(whole.qweight);
      expect(back.scales).toEqual(whole.scales);
      expect(() => unpackQuantized(bytes.subarray(1), kind, rows, cols)).toThrow(/needs/);
    });

    it(`${kind}: rejects NaN and bad shapes`, () => {
      const x = new Float32Array(32);
      x[4] = NaN;
      expect(() => quantize(x, 1, 32, kind)).toThrow(/NaN|non-finite/);
      expect(() => quantize(new Float32Array(10), 2, 4, kind)).toThrow(/values for shape/);
    });
  }

  it('int4 codes use all 16 levels (Q4_0: the extreme maps to code 0)', () => {
    const x = new Float32Array(32);
    for (let i = 0; i < 32; i++) x[i] = (i - 16) / 16; // -1 .. 0.9375
    const qt = quantize(x, 1, 32, 'int4');
    expect(qt.scales[0]).toBeCloseTo(1 / 8, 7);
    const codes = new Set<number>();
    for (let w = 0; w < 4; w++) for (let j = 0; j < 8; j++) codes.add((qt.qweight[w] >>> (4 * j)) & 0xf);
    expect(codes.size).toBe(16);
  });
});

describe('dtype conversions', () => {
  it('f16 encode/decode round-trips every finite half', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16ToF32(h);
      if (!Number.isFinite(v)) continue;
      expect(f32ToF16(v)).toBe(h === 0x8000 ? 0x8000 : h);
    }
  });

  it('f32 → f16 rounds to nearest and saturates to Inf', () => {
    const r = rng(3);
    for (let i = 0; i < 2000; i++) {
      const v = (r() * 2 - 1) * 1000;
      const h = f16ToF32(f32ToF16(v));
      expect(Math.abs(h - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
    expect(f16ToF32(f32ToF16(1e6))).toBe(Infinity);
    expect(f16ToF32(f32ToF16(1e-9))).toBe(0);
  });

  it('bf16 and f16 bytes decode to f32 at any alignment', () => {
    const x = new Float32Array([1, -2.5, 3.140625, 0, -0.0078125]);
    for (const fmt of ['f16', 'bf16', 'f32'] as const) {
      const bytes = encodeF32As(x, fmt);
      const shifted = new Uint8Array(bytes.byteLength + 1);
      shifted.set(bytes, 1);
      expect(Array.from(decodeToF32(shifted.subarray(1), fmt))).toEqual(Array.from(x));
      expect(Array.from(decodeToF32(bytes, fmt))).toEqual(Array.from(x));
    }
    expect(f32ToBf16(1.00390625)).toBe(0x3f80); // ties to even
  });
});
