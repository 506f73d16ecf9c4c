import { describe, expect, it } from 'vitest';
import { padBatch, seededRandom, shuffled, splitValidation } from './sequences';

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
