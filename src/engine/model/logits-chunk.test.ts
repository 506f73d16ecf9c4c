import { describe, expect, it } from 'vitest';
import { LOGITS_CHUNK_BYTES, LOGITS_ROW_ALIGN, logitsChunkRows, logitsChunks } from './logits-chunk';

describe('logits chunks', () => {
  it('keeps every token in one chunk when the logits fit the budget', () => {
    expect(logitsChunkRows(150, 512)).toBe(150);
    expect(logitsChunks(150, 150)).toEqual([{ start: 0, rows: 150 }]);
  });

  it('splits real shapes into aligned chunks within the budget', () => {
    for (const V of [49152, 128256, 151936]) {
      const rows = logitsChunkRows(4 * 512, V);
      expect(rows % LOGITS_ROW_ALIGN).toBe(0);
      expect(rows * V * 4).toBeLessThanOrEqual(LOGITS_CHUNK_BYTES);
      expect((rows + LOGITS_ROW_ALIGN) * V * 4).toBeGreaterThan(LOGITS_CHUNK_BYTES);
      const chunks = logitsChunks(2048, rows);
      expect(chunks.reduce((a, c) => a + c.rows, 0)).toBe(2048);
      chunks.forEach((c, i) => expect(c.start).toBe(i * rows));
    }
    // Llama-3.2-1B at 4 × 512: 256-row chunks, 128 MiB instead of 1 GiB.
    expect(logitsChunkRows(2048, 128256)).toBe(256);
  });

  it('never goes below one aligned chunk, and refuses unaligned chunking', () => {
    expect(logitsChunkRows(4096, 4_000_000)).toBe(LOGITS_ROW_ALIGN);
    expect(() => logitsChunks(200, 100)).toThrow(/multiple of 64/);
    expect(() => logitsChunkRows(0, 100)).toThrow(/positive integer/);
  });
});
