import { describe, expect, it } from 'vitest';
import { TokenArena } from './token-arena';

describe('TokenArena', () => {
  it('keeps each example as its own copy, over block boundaries and past the largest block', () => {
    const arena = new TokenArena();
    const kept: { want: number[]; got: { inputIds: Int32Array; trainMask: Uint8Array } }[] = [];
    // 40 examples of 5000 tokens cross several 64 Ki / 128 Ki blocks; one of 2 Mi is bigger than any block.
    for (let e = 0; e < 41; e++) {
      const n = e === 20 ? 2 << 20 : 5000;
      const ids = Int32Array.from({ length: n }, (_, i) => e * 7 + i);
      const mask = Uint8Array.from({ length: n }, (_, i) => (i + e) % 2);
      const got = arena.keep(ids, mask);
      ids.fill(-1); // the arena holds a copy, not the caller's array
      kept.push({ want: [e, n], got });
    }
    for (const { want: [e, n], got } of kept) {
      expect(got.inputIds.length).toBe(n);
      expect(got.trainMask.length).toBe(n);
      expect([got.inputIds[0], got.inputIds[n - 1]]).toEqual([e * 7, e * 7 + n - 1]);
      expect([got.trainMask[0], got.trainMask[n - 1]]).toEqual([e % 2, (n - 1 + e) % 2]);
    }
    // Views into shared blocks: many examples, few buffers.
    expect(new Set(kept.map((k) => k.got.inputIds.buffer)).size).toBeLessThan(10);
  });
});
