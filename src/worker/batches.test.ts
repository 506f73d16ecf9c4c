import { describe, expect, it } from 'vitest';
import { BatchStream, countedTokens } from './batches';

const ex = (ids: number[], mask: number[]) => ({ inputIds: Int32Array.from(ids), trainMask: Uint8Array.from(mask) });
const examples = [ex([1, 2, 3], [0, 1, 1]), ex([4, 5], [0, 1]), ex([6, 7, 8, 9, 10], [0, 0, 1, 1, 1])];

describe('BatchStream', () => {
  it('makes fixed-shape right-padded batches with unshifted labels', () => {
    const s = new BatchStream(examples, 2, 4, 1, 0);
    expect(s.T).toBe(4);
    const b = s.next();
    expect([b.B, b.T]).toEqual([2, 4]);
    for (let r = 0; r < 2; r++) {
      const ids = [...b.inputIds.subarray(r * 4, r * 4 + 4)];
      const mask = [...b.attentionMask.subarray(r * 4, r * 4 + 4)];
      const labels = [...b.labels.subarray(r * 4, r * 4 + 4)];
      const n = mask.reduce((a, m) => a + m, 0);
      expect(ids.slice(n).every((id) => id === 0)).toBe(true);
      expect(labels.slice(n).every((l) => l === -100)).toBe(true);
      labels.slice(0, n).forEach((l, t) => expect(l === -100 || l === ids[t]).toBe(true));
    }
    expect(countedTokens(b)).toBeGreaterThan(0);
  });

  it('visits every example once per epoch, in a seeded order, and resumes from a position', () => {
    const a = new BatchStream(examples, 1, 8, 7, 0);
    const first = [a.next(), a.next(), a.next()].map((b) => b.inputIds[0]);
    expect([...first].sort()).toEqual([1, 4, 6]);
    const pos = { ...a.pos };
    const next = a.next().inputIds[0];
    const b = new BatchStream(examples, 1, 8, 7, 0);
    b.seek(pos);
    expect(b.next().inputIds[0]).toBe(next);
    const c = new BatchStream(examples, 1, 8, 7, 0);
    expect([c.next(), c.next(), c.next()].map((x) => x.inputIds[0])).toEqual(first);
  });
});
