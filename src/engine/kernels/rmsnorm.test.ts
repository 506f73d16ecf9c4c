import { describe, expect, it } from 'vitest';
import { rmsnormChecks } from './rmsnorm.check';
import { rmsnormBackwardCpu, rmsnormForwardCpu } from './rmsnorm';
import { itChecks, randomF32, relL2Err } from './testing';

describe('rmsnorm kernels: GPU vs CPU', () => itChecks(rmsnormChecks));

describe('rmsnorm CPU twins', () => {
  it('forward matches LlamaRMSNorm on a hand example', () => {
    const out = new Float32Array(2);
    const rstd = new Float32Array(1);
    rmsnormForwardCpu(out, rstd, new Float32Array([3, 4]), new Float32Array([1, 2]), 1, 2, 0);
    const r = 1 / Math.sqrt(12.5);
    expect(rstd[0]).toBeCloseTo(r, 7);
    expect(out[0]).toBeCloseTo(3 * r, 6);
    expect(out[1]).toBeCloseTo(8 * r, 6);
  });

  for (const [N, C] of [
    [3, 7],
    [2, 16],
  ]) {
    it(`backward matches finite differences of forward (f64) N=${N} C=${C}`, () => {
      const eps = 1e-5;
      const x = Float64Array.from(randomF32(N * C, 31, 2));
      const w = Float64Array.from(randomF32(C, 32));
      const dout = Float64Array.from(randomF32(N * C, 33));
      const loss = (xx: Float64Array): number => {
        const y = new Float64Array(N * C);
        rmsnormForwardCpu(y, new Float64Array(N), xx, w, N, C, eps);
        return y.reduce((s, v, i) => s + v * dout[i], 0);
      };
      const h = 1e-6;
      const fd = new Float64Array(N * C);
      for (let i = 0; i < N * C; i++) {
        const xp = x.slice();
        const xm = x.slice();
        xp[i] += h;
        xm[i] -= h;
        fd[i] = (loss(xp) - loss(xm)) / (2 * h);
      }
      const rstd = new Float64Array(N);
      rmsnormForwardCpu(new Float64Array(N * C), rstd, x, w, N, C, eps);
      const dx = new Float64Array(N * C);
      rmsnormBackwardCpu(dx, dout, x, w, rstd, N, C, false);
      expect(relL2Err(dx, fd)).toBeLessThan(1e-7);
      // accumulate adds onto what is there
      const acc = new Float64Array(N * C).fill(1);
      rmsnormBackwardCpu(acc, dout, x, w, rstd, N, C, true);
      expect(relL2Err(acc.map((v) => v - 1), dx)).toBeLessThan(1e-12);
    });
  }
});
