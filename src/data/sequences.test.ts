import { describe, expect, it } from 'vitest';
import { makeBatches, packExamples, seededRandom, shuffled, splitValidation } from './sequences';

const ex = (ids: number[], mask: number[]) => ({ inputIds: Int32Array.from(ids), trainMask: Uint8Array.from(mask) });

describe('makeBatches', () => {
  it('right-pads, masks padding and untrained tokens', () => {
    const examples = [ex([5, 6, 7], [0, 1, 1]), ex([8, 9], [1, 0]), ex([4], [1])];
    const batches = makeBatches(examples, { batchSize: 2, padId: 0 });
    expect(batches.length).toBe(2);
    const [a, b] = batches;
    expect([a.B, a.T]).toEqual([2, 3]);
    expect(Array.from(a.inputIds)).toEqual([5, 6, 7, 8, 9, 0]);
    expect(Array.from(a.attentionMask)).toEqual([1, 1, 1, 1, 1, 0]);
    expect(Array.from(a.labels)).toEqual([-100, 6, 7, 8, -100, -100]);
    expect(a.inputIds).toBeInstanceOf(Int32Array);
    expect([b.B, b.T]).toEqual([1, 1]);
    expect(makeBatches(examples, { batchSize: 2, padId: 0, dropLast: true }).length).toBe(1);
    expect(makeBatches(examples, { batchSize: 2, padId: 0, padToMultipleOf: 8 })[0].T).toBe(8);
    // maxLength cuts rows to their first tokens and caps T (padToMultipleOf included).
    const [c] = makeBatches(examples, { batchSize: 2, padId: 0, padToMultipleOf: 8, maxLength: 2 });
    expect([c.B, c.T]).toEqual([2, 2]);
    expect(Array.from(c.inputIds)).toEqual([5, 6, 8, 9]);
    expect(Array.from(c.labels)).toEqual([-100, 6, 8, -100]);
    expect(Array.from(c.attentionMask)).toEqual([1, 1, 1, 1]);
  });

  it('shuffles deterministically by seed', () => {
    const examples = Array.from({ length: 20 }, (_, i) => ex([i + 1], [1]));
    const order = (seed: number) =>
      makeBatches(examples, { batchSize: 4, padId: 0, shuffleSeed: seed }).flatMap((b) => Array.from(b.inputIds));
    expect(order(7)).toEqual(order(7));
    expect(order(7)).not.toEqual(order(8));
    expect([...order(7)].sort((x, y) => x - y)).toEqual(examples.map((_, i) => i + 1));
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

describe('packExamples', () => {
  it('packs in order without splitting examples', () => {
    const packed = packExamples([ex([1, 2], [0, 1]), ex([3, 4, 5], [1, 1, 1]), ex([6], [0]), ex([7, 8, 9, 10], [1, 1, 1, 1])], 5);
    expect(packed.map((p) => Array.from(p.inputIds))).toEqual([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);
    expect(packed.map((p) => Array.from(p.trainMask))).toEqual([[0, 1, 1, 1, 1], [0, 1, 1, 1, 1]]);
    expect(packed.map((p) => p.members)).toEqual([[0, 1], [2, 3]]);
    expect(() => packExamples([ex([1, 2, 3], [1, 1, 1])], 2)).toThrow(/more than the packing length/);
  });
});
