import { describe, expect, it } from 'vitest';
import { columnsChecks } from './columns.check';
import { columnsJoinCpu, columnsSplitCpu } from './columns';
import { itChecks } from './testing';

describe('columns kernels: GPU vs CPU', () => itChecks(columnsChecks));

describe('columns CPU twins', () => {
  it('split then join of every block gives the fused matrix back; a block is its columns', () => {
    const [N, W] = [3, 7];
    const fused = Float32Array.from({ length: N * W }, (_, i) => i);
    const back = new Float32Array(N * W);
    for (const [w, offset] of [[4, 0], [2, 4], [1, 6]]) {
      const part = new Float32Array(N * w);
      columnsSplitCpu(part, fused, N, W, w, offset);
      expect(Array.from(part.subarray(0, w))).toEqual(Array.from({ length: w }, (_, j) => offset + j));
      expect(part[w]).toBe(W + offset);
      columnsJoinCpu(back, part, N, W, w, offset);
    }
    expect(back).toEqual(fused);
  });
});
