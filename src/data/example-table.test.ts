import { describe, expect, it } from 'vitest';
import { ExampleTable } from './example-table';

describe('ExampleTable', () => {
  it('keeps each example as its own copy, over block boundaries and past the largest block', () => {
    const table = new ExampleTable();
    // 41 examples: 40 of 5000 tokens cross several 64 Ki / 128 Ki blocks; one of 2 Mi is bigger than any block.
    const sizes = Array.from({ length: 41 }, (_, e) => (e === 20 ? 2 << 20 : 5000));
    sizes.forEach((n, e) => {
      const ids = Int32Array.from({ length: n }, (_, i) => e * 7 + i);
      const mask = Uint8Array.from({ length: n }, (_, i) => (i + e) % 2);
      table.push(e * 3 + 1, ids, mask, e % 5 === 0);
      ids.fill(-1); // the table holds a copy, not the caller's array
      mask.fill(9);
    });
    expect(table.length).toBe(41);
    sizes.forEach((n, e) => {
      const ex = table.example(e);
      expect(table.tokenCount(e)).toBe(n);
      expect([ex.inputIds.length, ex.trainMask.length]).toEqual([n, n]);
      expect([ex.inputIds[0], ex.inputIds[n - 1]]).toEqual([e * 7, e * 7 + n - 1]);
      expect([ex.trainMask[0], ex.trainMask[n - 1]]).toEqual([e % 2, (n - 1 + e) % 2]);
      expect([ex.line, ex.truncated]).toEqual([e * 3 + 1, e % 5 === 0]);
    });
    // Views into shared blocks: many examples, few buffers.
    expect(new Set([...table].map((ex) => ex.inputIds.buffer)).size).toBeLessThan(10);
    expect(table.bytes).toBeGreaterThanOrEqual(sizes.reduce((a, n) => a + 5 * n, 0));
  });

  it('grows its columns past their first size, and iterates and slices in order', () => {
    const table = new ExampleTable();
    for (let e = 0; e < 3000; e++) table.push(e + 1, Int32Array.of(e, e + 1), Uint8Array.of(0, 1), e === 2999);
    expect([...table].map((ex) => ex.line)).toEqual(Array.from({ length: 3000 }, (_, e) => e + 1));
    expect(Array.from(table.example(2999).inputIds)).toEqual([2999, 3000]);
    expect(table.example(2999).truncated).toBe(true);
    expect(table.example(2998).truncated).toBe(false);
    expect(table.first(2).map((ex) => Array.from(ex.inputIds))).toEqual([[0, 1], [1, 2]]);
    expect(new ExampleTable().first(3)).toEqual([]);
  });

  it('names an index outside the table and a mask that does not match its ids', () => {
    const table = new ExampleTable();
    table.push(1, Int32Array.of(5), Uint8Array.of(1), false);
    expect(() => table.example(1)).toThrow('example 1 of 1');
    expect(() => table.tokenCount(-1)).toThrow('example -1 of 1');
    expect(() => table.push(7, Int32Array.of(1, 2), Uint8Array.of(1), false)).toThrow('example at line 7: 2 ids but 1 mask entries');
    expect(table.length).toBe(1);
  });
});
