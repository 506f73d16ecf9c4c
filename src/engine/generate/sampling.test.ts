import { describe, expect, it } from 'vitest';
import { rng } from '../kernels/random';
import { argmax, nucleus, sampleToken } from './sampling';

describe('sampling', () => {
  it('temperature 0 is argmax (first on ties), whatever the RNG', () => {
    const logits = Float32Array.of(0.5, 3, -1, 3, 2);
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { temperature: 0, topP: 0.1 }, () => 0.999)).toBe(1);
    expect(argmax(Float32Array.of(NaN, -Infinity, -5))).toBe(2);
  });

  it('top-p over a large vocabulary equals sorting every token (the threshold only prunes)', () => {
    const g = rng(4);
    for (const [V, spread] of [[5000, 8], [20000, 2], [3000, 30]] as const) {
      const logits = new Float32Array(V).map(() => (g() - 0.5) * spread);
      logits[7] = logits[9]; // a tie
      for (const topP of [0.05, 0.5, 0.9, 0.999]) {
        const got = nucleus(logits, { temperature: 0.8, topP });
        // Reference: softmax, sort all ids (most likely first, ties by id), cut at cumulative topP.
        let max = -Infinity;
        for (const v of logits) max = Math.max(max, v);
        const w = Array.from(logits, (v) => Math.exp((v - max) / 0.8));
        const sum = w.reduce((a, b) => a + b, 0);
        const order = w.map((_, i) => i).sort((a, b) => w[b] - w[a] || a - b);
        let cum = 0;
        let keep = order.length;
        for (let k = 0; k < order.length; k++) {
          cum += w[order[k]] / sum;
          if (cum >= topP) {
            keep = k + 1;
            break;
          }
        }
        expect(got.ids).toEqual(order.slice(0, keep));
      }
    }
  });

  it('top-p keeps the smallest most-likely set reaching p, renormalized', () => {
    // softmax of log-probs: probabilities 0.5, 0.3, 0.15, 0.05.
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
    const all = nucleus(logits, { temperature: 1, topP: 1 });
    expect(all.ids).toEqual([0, 1, 2, 3]);
    expect(all.probs[0]).toBeCloseTo(0.5, 6);
    const p = nucleus(logits, { temperature: 1, topP: 0.8 });
    expect(p.ids).toEqual([0, 1]);
    expect(p.probs[0]).toBeCloseTo(0.5 / 0.8, 6);
    expect(nucleus(logits, { temperature: 1, topP: 0.81 }).ids).toEqual([0, 1, 2]);
    expect(nucleus(logits, { temperature: 1, topP: 0.01 }).ids).toEqual([0]);
  });

  it('temperature sharpens or flattens the distribution', () => {
    const logits = Float32Array.of(2, 1, 0);
    const cold = nucleus(logits, { temperature: 0.25, topP: 1 }).probs[0];
    const warm = nucleus(logits, { temperature: 4, topP: 1 }).probs[0];
    expect(cold).toBeGreaterThan(0.98);
    expect(warm).toBeLessThan(0.45);
  });

  it('draws follow the nucleus probabilities and the seed', () => {
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
    const counts = [0, 0, 0, 0];
    const r = rng(7);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 1, topP: 0.8 }, r)]++;
    expect(counts[2] + counts[3]).toBe(0);
    expect(counts[0] / n).toBeCloseTo(0.625, 1);
    const draws = (seed: number): number[] => {
      const g = rng(seed);
      return Array.from({ length: 20 }, () => sampleToken(logits, { temperature: 1, topP: 1 }, g));
    };
    expect(draws(3)).toEqual(draws(3));
    expect(draws(3)).not.toEqual(draws(4));
  });

  it('refuses a bad top-p', () => {
    expect(() => nucleus(Float32Array.of(1, 2), { temperature: 1, topP: 0 })).toThrow(/top-p/);
    expect(() => nucleus(Float32Array.of(1, 2), { temperature: 1, topP: 1.5 })).toThrow(/top-p/);
  });
});
