import { describe, expect, it } from 'vitest';
import { countedTokens } from '../engine/train/types';
import { packBatch, packRows, padBatch, seededRandom, shuffled, splitValidation } from './sequences';

const ex = (ids: number[], mask: number[]) => ({ inputIds: Int32Array.from(ids), trainMask: Uint8Array.from(mask) });

describe('padBatch', () => {
  it('right-pads, masks padding and untrained tokens, cuts rows longer than T', () => {
    const a = padBatch([ex([5, 6, 7], [0, 1, 1]), ex([8, 9], [1, 0])], 3, 0);
    expect([a.B, a.T]).toEqual([2, 3]);
    expect(Array.from(a.inputIds)).toEqual([5, 6, 7, 8, 9, 0]);
    expect(Array.from(a.attentionMask)).toEqual([1, 1, 1, 1, 1, 0]);
    expect(Array.from(a.labels)).toEqual([-100, 6, 7, 8, -100, -100]);
    expect(a.inputIds).toBeInstanceOf(Int32Array);
    const c = padBatch([ex([5, 6, 7], [0, 1, 1]), ex([8, 9], [1, 0])], 2, 0);
    expect(Array.from(c.inputIds)).toEqual([5, 6, 8, 9]);
    expect(Array.from(c.labels)).toEqual([-100, 6, 8, -100]);
    expect(Array.from(c.attentionMask)).toEqual([1, 1, 1, 1]);
    expect(() => padBatch([], 0, 0)).toThrow(/T must be a positive integer/);
  });
});

describe('shuffle and split', () => {
  it('seededRandom is reproducible and in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
  it('shuffled is a permutation, stable per seed', () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    expect(shuffled(xs, 1)).toEqual(shuffled(xs, 1));
    expect(shuffled(xs, 1)).not.toEqual(xs);
    expect([...shuffled(xs, 1)].sort((a, b) => a - b)).toEqual(xs);
  });
  it('splitValidation holds out a fraction, disjoint, in order, deterministic', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i);
    const { train, validation } = splitValidation(xs, 0.1, 3);
    expect(validation.length).toBe(10);
    expect(train.length).toBe(90);
    expect([...train, ...validation].sort((a, b) => a - b)).toEqual(xs);
    expect(validation).toEqual([...validation].sort((a, b) => a - b));
    expect(splitValidation(xs, 0.1, 3)).toEqual({ train, validation });
    expect(splitValidation([1, 2, 3], 0.01, 1).validation.length).toBe(1);
    expect(splitValidation([1], 0.5, 1).validation.length).toBe(0);
    expect(() => splitValidation(xs, 1, 1)).toThrow();
  });
});

describe('packRows (best-fit decreasing)', () => {
  it('places each example, longest first, into the row with the least room that holds it', () => {
    // T 8, lengths [5, 3, 4, 2, 6]: 6 opens row 0 (room 2), 5 opens row 1 (room 3), 4 opens row 2
    // (room 4), 3 fills row 1 (room 3 is the least that holds it), 2 fills row 0 (room 2 < 4).
    expect(packRows([5, 3, 4, 2, 6], 8)).toEqual([[4, 3], [0, 1], [2]]);
    // Ties keep the input order; examples longer than T take a row of their own.
    expect(packRows([2, 2, 2], 4)).toEqual([[0, 1], [2]]);
    expect(packRows([10, 1], 4)).toEqual([[0], [1]]);
    expect(packRows([], 4)).toEqual([]);
    // Rooms across a 32-bit word of the room index: T 70, lengths 40, 35, 30, 28.
    // 40 -> row 0 (room 30); 35 -> row 1 (room 35); 30 -> row 0 (room 30 fits exactly); 28 -> row 1.
    expect(packRows([40, 35, 30, 28], 70)).toEqual([[0, 2], [1, 3]]);
    expect(() => packRows([1], 0)).toThrow(/T must be a positive integer/);
  });

  it('keeps every example exactly once and every row within T; a reordering gives rows of the same lengths', () => {
    const rnd = seededRandom(5);
    const lengths = Array.from({ length: 300 }, () => 1 + Math.floor(rnd() ** 3 * 200));
    const rows = packRows(lengths, 256);
    expect(rows.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const r of rows) expect(r.reduce((n, i) => n + lengths[i], 0)).toBeLessThanOrEqual(256);
    const total = lengths.reduce((a, b) => a + b, 0);
    expect(rows.length).toBe(Math.ceil(total / 256)); // these lengths pack without a spare row
    const order = shuffled(lengths.map((_, i) => i), 9);
    const again = packRows(order.map((i) => lengths[i]), 256);
    const shape = (rs: number[][], ls: number[]) => rs.map((r) => r.map((i) => ls[i]));
    expect(shape(again, order.map((i) => lengths[i]))).toEqual(shape(rows, lengths));
  });
});

describe('packBatch', () => {
  it('writes examples end to end with positions restarting at 0 and no target across a boundary', () => {
    const a = ex([5, 6, 7], [0, 1, 1]);
    const b = ex([8, 9], [1, 1]);
    const c = ex([3], [1]);
    const p = packBatch([[a, b], [c]], 6, 0);
    expect([p.B, p.T]).toEqual([2, 6]);
    expect(Array.from(p.inputIds)).toEqual([5, 6, 7, 8, 9, 0, 3, 0, 0, 0, 0, 0]);
    expect(Array.from(p.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(p.labels)).toEqual([-100, 6, 7, -100, 9, -100, -100, -100, -100, -100, -100, -100]);
    expect(Array.from(p.positions!)).toEqual([0, 1, 2, 0, 1, 0, 0, 0, 1, 2, 3, 4]);
    // The targets are those of a and b trained alone: 6, 7 (a) and 9 (b).
    expect(countedTokens(p)).toBe(3);
    expect(countedTokens(padBatch([a, b], 3, 0))).toBe(3);
  });

  it('cuts an example that overruns the row', () => {
    const p = packBatch([[ex([5, 6, 7], [1, 1, 1]), ex([8, 9], [1, 1])]], 4, 0);
    expect(Array.from(p.inputIds)).toEqual([5, 6, 7, 8]);
    expect(Array.from(p.labels)).toEqual([-100, 6, 7, -100]);
    expect(Array.from(p.positions!)).toEqual([0, 1, 2, 0]);
    expect(() => packBatch([], 0, 0)).toThrow(/T must be a positive integer/);
  });
});
