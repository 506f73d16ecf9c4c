import { describe, expect, it } from 'vitest';
import { embeddingChecks } from './embedding.check';
import { embeddingForwardCpu } from './embedding';
import { itChecks } from './testing';

describe('embedding kernel: GPU vs CPU', () => itChecks(embeddingChecks));

describe('embedding CPU twin', () => {
  it('gathers rows and zeroes out-of-range ids', () => {
    const out = new Float32Array(6).fill(9);
    embeddingForwardCpu(out, new Uint32Array([1, 0, 2]), new Float32Array([1, 2, 3, 4]), 3, 2);
    expect(Array.from(out)).toEqual([3, 4, 1, 2, 0, 0]);
  });
});
