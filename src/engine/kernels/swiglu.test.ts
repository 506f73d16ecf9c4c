import { describe, expect, it } from 'vitest';
import { swigluChecks } from './swiglu.check';
import { swigluBackwardCpu, swigluForwardCpu } from './swiglu';
import { itChecks, randomF32, relL2Err } from './testing';

describe('swiglu kernels: GPU vs CPU', () => itChecks(swigluChecks));

describe('swiglu CPU twins', () => {
  it('forward is finite for extreme gates', () => {
    const out = new Float32Array(3);
    swigluForwardCpu(out, new Float32Array([-1000, 0, 1000]), new Float32Array([1, 1, 2]), 3);
    expect(Array.from(out)).toEqual([-0, 0, 2000]);
  });

  it('gelu_pytorch_tanh: finite for extreme gates, and the values torch gives', () => {
    const out = new Float64Array(4);
    swigluForwardCpu(out, new Float64Array([-1000, 0, 1000, 1]), new Float64Array([1, 1, 2, 1]), 4, 'gelu_pytorch_tanh');
    expect(Array.from(out.subarray(0, 3))).toEqual([-0, 0, 2000]);
    // torch.nn.functional.gelu(torch.tensor(1.0, dtype=torch.float64), approximate='tanh')
    expect(out[3]).toBeCloseTo(0.8411919906082768, 15);
  });

  it.each(['silu', 'gelu_pytorch_tanh'] as const)('%s backward matches finite differences of forward (f64)', (act) => {
    const n = 40;
    const gate = Float64Array.from(randomF32(n, 61, 6));
    const up = Float64Array.from(randomF32(n, 62, 2));
    const dout = Float64Array.from(randomF32(n, 63));
    const loss = (g: Float64Array, u: Float64Array): number => {
      const y = new Float64Array(n);
      swigluForwardCpu(y, g, u, n, act);
      return y.reduce((s, v, i) => s + v * dout[i], 0);
    };
    const h = 1e-6;
    const fdG = new Float64Array(n);
    const fdU = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const gp = gate.slice();
      const gm = gate.slice();
      gp[i] += h;
      gm[i] -= h;
      fdG[i] = (loss(gp, up) - loss(gm, up)) / (2 * h);
      const up1 = up.slice();
      const um = up.slice();
      up1[i] += h;
      um[i] -= h;
      fdU[i] = (loss(gate, up1) - loss(gate, um)) / (2 * h);
    }
    const dg = new Float64Array(n);
    const du = new Float64Array(n);
    swigluBackwardCpu(dg, du, dout, gate, up, n, act);
    expect(relL2Err(dg, fdG)).toBeLessThan(1e-7);
    expect(relL2Err(du, fdU)).toBeLessThan(1e-7);
  });
});
