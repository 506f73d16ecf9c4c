import { describe, expect, it } from 'vitest';
import { loraChecks } from './lora.check';
import {
  loraDownCpu,
  loraDropoutKey,
  loraGradACpu,
  loraGradBCpu,
  loraGradHCpu,
  loraGradInputCpu,
  loraKeepMaskCpu,
  loraKeepThreshold,
  loraUpCpu,
  pcgHash,
  type LoraDropoutCpu,
} from './lora';
import { itChecks, randomF32, relL2Err } from './testing';

describe('lora kernels: GPU vs CPU', () => itChecks(loraChecks));

describe('lora dropout mask', () => {
  it('pcgHash is the 32-bit PCG-RXS-M-XS output function', () => {
    // Reference values computed with BigInt arithmetic mod 2^32.
    const ref = (v: number): number => {
      const M = 1n << 32n;
      const s = (BigInt(v) * 747796405n + 2891336453n) % M;
      const w = (((s >> ((s >> 28n) + 4n)) ^ s) * 277803737n) % M;
      return Number((w >> 22n) ^ w);
    };
    for (const v of [0, 1, 2, 12345, 0x7fffffff, 0x80000000, 0xffffffff]) expect(pcgHash(v)).toBe(ref(v));
  });

  it('keeps about 1 - p of the elements, independently per site and seed', () => {
    const n = 100_000;
    for (const p of [0.1, 0.3, 0.5]) {
      let kept = 0;
      let agreeSite = 0;
      let agreeSeed = 0;
      for (let i = 0; i < n; i++) {
        const k = loraKeepMaskCpu(7, 3, i, p);
        if (k) kept++;
        if (k === loraKeepMaskCpu(7, 4, i, p)) agreeSite++;
        if (k === loraKeepMaskCpu(8, 3, i, p)) agreeSeed++;
      }
      expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.01);
      // Independent masks agree with probability p² + (1-p)².
      const agree = p * p + (1 - p) * (1 - p);
      expect(Math.abs(agreeSite / n - agree)).toBeLessThan(0.01);
      expect(Math.abs(agreeSeed / n - agree)).toBeLessThan(0.01);
    }
  });

  it('p = 0 keeps everything; p must be in [0, 1)', () => {
    for (let i = 0; i < 1000; i++) expect(loraKeepMaskCpu(1, 2, i, 0)).toBe(true);
    expect(loraKeepThreshold(0)).toBe(0);
    expect(loraKeepThreshold(0.5)).toBe(1 << 23);
    expect(() => loraKeepThreshold(1)).toThrow();
    expect(() => loraKeepThreshold(-0.1)).toThrow();
    expect(loraDropoutKey(1, 2)).not.toBe(loraDropoutKey(2, 1));
  });
});

describe('lora CPU twins: backward vs finite differences of forward (f64)', () => {
  const [N, In, Out, r] = [4, 6, 5, 3];
  const scale = 1.7;
  for (const p of [0, 0.3]) {
    it(`p=${p}`, () => {
      const d: LoraDropoutCpu = { p, seed: new Uint32Array([1234]), site: 5 };
      const x = Float64Array.from(randomF32(N * In, 91));
      const A = Float64Array.from(randomF32(r * In, 92));
      const B = Float64Array.from(randomF32(Out * r, 93));
      const dout = Float64Array.from(randomF32(N * Out, 94));
      const base = Float64Array.from(randomF32(N * Out, 95));
      // loss = Σ dout ⊙ (base + scale · (drop(x)·Aᵀ)·Bᵀ)
      const loss = (xx: Float64Array, AA: Float64Array, BB: Float64Array): number => {
        const h = new Float64Array(N * r);
        loraDownCpu(h, xx, AA, N, In, r, d);
        const y = base.slice();
        loraUpCpu(y, h, BB, N, Out, r, scale);
        return y.reduce((s, v, i) => s + v * dout[i], 0);
      };
      const lossH = (hh: Float64Array): number => {
        const y = base.slice();
        loraUpCpu(y, hh, B, N, Out, r, scale);
        return y.reduce((s, v, i) => s + v * dout[i], 0);
      };
      const fd = (v: Float64Array, f: (w: Float64Array) => number): Float64Array => {
        const g = new Float64Array(v.length);
        const step = 1e-6;
        for (let i = 0; i < v.length; i++) {
          const a = v.slice();
          const b = v.slice();
          a[i] += step;
          b[i] -= step;
          g[i] = (f(a) - f(b)) / (2 * step);
        }
        return g;
      };

      const h = new Float64Array(N * r);
      loraDownCpu(h, x, A, N, In, r, d);
      const dB = new Float64Array(Out * r);
      loraGradBCpu(dB, dout, h, N, Out, r, scale, false);
      const dh = new Float64Array(N * r);
      loraGradHCpu(dh, dout, B, N, Out, r, scale);
      const dA = new Float64Array(r * In);
      loraGradACpu(dA, dh, x, N, In, r, d, false);
      const dx = new Float64Array(N * In);
      loraGradInputCpu(dx, dh, A, N, In, r, d);

      expect(relL2Err(dB, fd(B, (w) => loss(x, A, w)))).toBeLessThan(1e-7);
      expect(relL2Err(dh, fd(h, lossH))).toBeLessThan(1e-7);
      expect(relL2Err(dA, fd(A, (w) => loss(x, w, B)))).toBeLessThan(1e-7);
      expect(relL2Err(dx, fd(x, (w) => loss(w, A, B)))).toBeLessThan(1e-7);
      if (p > 0) expect(dx.some((v) => v === 0)).toBe(true); // the mask dropped something

      // accumulate = true adds onto what is there
      const dB2 = new Float64Array(Out * r).fill(2);
      loraGradBCpu(dB2, dout, h, N, Out, r, scale, true);
      expect(relL2Err(dB2.map((v) => v - 2), dB)).toBeLessThan(1e-12);
      const dA2 = new Float64Array(r * In).fill(2);
      loraGradACpu(dA2, dh, x, N, In, r, d, true);
      expect(relL2Err(dA2.map((v) => v - 2), dA)).toBeLessThan(1e-12);
    });
  }
});
