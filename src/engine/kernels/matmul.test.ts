import { describe, expect, it } from 'vitest';
import { matmulChecks } from './matmul.check';
import { linearBackwardInputCpu, linearForwardCpu } from './matmul';
import { itChecks, randomF32, relL2Err } from './testing';

describe('matmul kernels: GPU vs CPU', () => itChecks(matmulChecks));

describe('matmul CPU twins', () => {
  it('linearBackwardInputCpu matches finite differences of linearForwardCpu (f64)', () => {
    const [N, In, Out] = [3, 5, 4];
    const x = Float64Array.from(randomF32(N * In, 11));
    const w = Float64Array.from(randomF32(Out * In, 12));
    const b = Float64Array.from(randomF32(Out, 13));
    const dout = Float64Array.from(randomF32(N * Out, 14));
    const loss = (xx: Float64Array): number => {
      const y = new Float64Array(N * Out);
      linearForwardCpu(y, xx, w, b, N, In, Out);
      return y.reduce((s, v, i) => s + v * dout[i], 0);
    };
    const fd = new Float64Array(N * In);
    const h = 1e-6;
    for (let i = 0; i < N * In; i++) {
      const xp = x.slice();
      const xm = x.slice();
      xp[i] += h;
      xm[i] -= h;
      fd[i] = (loss(xp) - loss(xm)) / (2 * h);
    }
    const dx = new Float64Array(N * In).fill(0.25);
    linearBackwardInputCpu(dx, dout, w, N, In, Out, true);
    for (let i = 0; i < dx.length; i++) dx[i] -= 0.25;
    expect(relL2Err(dx, fd)).toBeLessThan(1e-8);
  });

  it('linearForwardCpu accumulates and adds the bias', () => {
    const out = new Float32Array([1, 2]);
    linearForwardCpu(out, new Float32Array([1, 2]), new Float32Array([1, 1, 0, 1]), new Float32Array([10, 20]), 1, 2, 2, true);
    expect(Array.from(out)).toEqual([1 + 3 + 10, 2 + 2 + 20]);
  });
});
