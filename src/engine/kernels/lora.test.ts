import { splitReduceCpu } from './add';
import { describe, expect, it } from 'vitest';
import { kernelPolicy } from './policy';
import { loraChecks } from './lora.check';
import {
  loraDownCpu,
  loraDropoutKey,
  loraGradACpu,
  loraGradBCpu,
  loraGradHCpu,
  loraGradInputCpu,
  loraKeepMaskCpu,
  loraGradA,
  loraGradB,
  loraGradH,
  loraDown,
  loraKeepThreshold,
  loraSplitPlan,
  loraSplitScratchFloats,
  loraSplitSlices,
  loraUpCpu,
  pcgHash,
  type LoraDropoutCpu,
  type LoraSplitKernel,
} from './lora';
import type { DispatchSpec, Recorder } from '../../gpu/gpu';
import { fakeBuf, itChecks, randomF32, recordDispatches, relL2Err } from './testing';

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

describe('lora split-K policy', () => {
  const kernels: LoraSplitKernel[] = ['down', 'gradH', 'gradA', 'gradB'];

  it('Llama-3.2-1B shapes (N=2048, r=16): from 32..128 workgroups to 512..1024', () => {
    const got = (k: LoraSplitKernel, io: number) => {
      const p = loraSplitPlan(k, 2048, io, 16);
      return [loraSplitPlan(k, 2048, io, 16, 1).workgroups, p.slices, p.kSlice, p.workgroups];
    };
    expect(got('down', 2048)).toEqual([32, 16, 128, 512]);
    expect(got('down', 8192)).toEqual([32, 32, 256, 1024]);
    expect(got('gradH', 2048)).toEqual([32, 16, 128, 512]);
    expect(got('gradH', 8192)).toEqual([32, 32, 256, 1024]);
    expect(got('gradA', 2048)).toEqual([32, 16, 128, 512]);
    expect(got('gradA', 8192)).toEqual([128, 8, 256, 1024]);
    expect(got('gradB', 2048)).toEqual([32, 16, 128, 512]);
    expect(got('gradB', 8192)).toEqual([128, 8, 256, 1024]);
  });

  it('no split when the tiles already fill the GPU or the reduction is short', () => {
    expect(loraSplitSlices(kernelPolicy.loraSplitTargetWorkgroups, 1 << 20)).toBe(1);
    expect(loraSplitSlices(1, kernelPolicy.loraSplitMinSlice * 2 - 1)).toBe(1);
    expect(loraSplitPlan('down', 16, 64, 4).slices).toBe(1); // tiny shapes (reference tests) run the plain kernel
    expect(loraSplitPlan('gradA', 64 * 1024, 64 * 1024, 16).slices).toBe(1);
    const p = loraSplitPlan('gradB', 100, 50, 4, 1);
    expect([p.slices, p.kSlice, p.partialFloats]).toEqual([1, 100, 0]);
  });

  it('slices are whole TILE_K steps that cover K once, the last possibly ragged, none empty', () => {
    for (const K of [1, 15, 16, 17, 70, 127, 128, 129, 1000, 2047, 2048, 8191, 8192]) {
      for (const forced of [undefined, 1, 2, 3, 5, 16, 64, 10_000]) {
        const p = loraSplitPlan('down', 64, K, 8, forced);
        if (p.slices === 1) {
          expect(p.kSlice).toBe(K);
          continue;
        }
        expect(p.kSlice % 16).toBe(0);
        expect((p.slices - 1) * p.kSlice).toBeLessThan(K);
        expect(p.slices * p.kSlice).toBeGreaterThanOrEqual(K);
        if (forced !== undefined) expect(p.slices).toBeLessThanOrEqual(forced);
        else expect(p.kSlice).toBeGreaterThanOrEqual(kernelPolicy.loraSplitMinSlice);
        expect(p.partialFloats).toBe(p.slices * p.M * p.Nc);
        expect(p.workgroups).toBe(p.tiles * p.slices);
      }
    }
  });

  it('loraSplitScratchFloats covers every token count up to the maximum', () => {
    const shapes: Array<[number, number]> = [
      [2048, 2048],
      [512, 2048],
      [8192, 2048],
      [2048, 8192],
      [576, 1536],
    ];
    for (const r of [4, 16, 40]) {
      for (const maxTokens of [1, 63, 64, 65, 700, 2048]) {
        const room = loraSplitScratchFloats(maxTokens, r, shapes);
        let need = 0;
        for (let N = 1; N <= maxTokens; N++) {
          for (const [Out, In] of shapes) {
            for (const k of kernels) need = Math.max(need, loraSplitPlan(k, N, k === 'down' || k === 'gradA' ? In : Out, r).partialFloats);
          }
        }
        expect(room).toBeGreaterThanOrEqual(need);
        expect(room).toBeLessThanOrEqual(need * 1.25 + 1); // and not much more
      }
    }
    expect(loraSplitScratchFloats(2048, 16, [])).toBe(0);
  });

  it('CPU reduce twin: slices summed in order, alpha, accumulate', () => {
    const partials = Float32Array.from([1, 2, 99, 10, 20, 99, 100, 200, 99]);
    const c = Float32Array.from([5, 6]);
    splitReduceCpu(c, partials, 2, 3, 3, false, 0.5);
    expect([...c]).toEqual([55.5, 111]);
    splitReduceCpu(c, partials, 2, 3, 3, true, 2);
    expect([...c]).toEqual([55.5 + 222, 111 + 444]);
    // f32 left-to-right: 1e8 + 1 + 1 - 1e8 = 0 in f32 (each +1 is lost), not 2.
    const p2 = Float32Array.from([1e8, 1, 1, -1e8]);
    const c2 = new Float32Array(1);
    splitReduceCpu(c2, p2, 1, 4, 1, false);
    expect(c2[0]).toBe(0);
  });

  describe('dispatch', () => {
    const record = (fn: (rec: Recorder) => void): DispatchSpec[] => recordDispatches(fn, { maxComputeWorkgroupsPerDimension: 65535 });
    // The named uniforms in the order the dispatch lists them (the shader's field order).
    const u = (d: DispatchSpec) => Object.values(d.uniforms!);
    const dropout = { p: 0.25, seed: fakeBuf(1), site: 3 };

    it('split: raw partials into the scratch, then one reduce with alpha and accumulate into C', () => {
      const [dA, dh, inp, partials] = [fakeBuf(16 * 8192), fakeBuf(2048 * 16), fakeBuf(2048 * 8192), fakeBuf(1 << 20)];
      const calls = record((rec) => loraGradA(rec, dA, dh, inp, 2048, 8192, 16, dropout, true, { partials }));
      expect(calls.map((d) => d.entry)).toEqual(['lora_grad_a', 'split_reduce']);
      // M, Nc, K, tiles_m, tiles, accumulate, alpha, threshold, site, k_slice, slices, slice_stride
      expect(u(calls[0])).toEqual([16, 8192, 2048, 1, 128, 0, 1, loraKeepThreshold(0.25), 3, 256, 8, 16 * 8192]);
      expect(calls[0].bindings).toEqual([partials, dh, inp, dropout.seed]);
      expect(calls[0].workgroups).toEqual([1024, 1]);
      // add.wgsl split_reduce: n, slices, stride, accumulate, alpha
      expect(u(calls[1])).toEqual([16 * 8192, 8, 16 * 8192, 1, 1 / 0.75]);
      expect(calls[1].bindings).toEqual([dA, partials]);
    });

    it('no split: one plain GEMM writing C directly, as before', () => {
      const [dB, dout, h] = [fakeBuf(64 * 64), fakeBuf(64 * 2048), fakeBuf(64 * 16)];
      for (const split of [undefined, { partials: fakeBuf(1 << 20), slices: 1 }]) {
        const calls = record((rec) => loraGradB(rec, dB, dout, h, 64, 64 * 1024, 16, 2, true, split));
        expect(calls.map((d) => d.entry)).toEqual(['lora_grad_b']);
        expect(u(calls[0])).toEqual([64 * 1024, 16, 64, 1024, 1024, 1, 2, 0, 0, 64, 1, 0]);
      }
      // without a scratch the policy cannot split
      expect(record((rec) => loraDown(rec, fakeBuf(1), fakeBuf(1), fakeBuf(1), 2048, 2048, 16, dropout)).length).toBe(1);
    });

    it('a scratch too small narrows the split; a forced split that does not fit, or aliasing, throws', () => {
      const [dh, dout, B] = [fakeBuf(2048 * 16), fakeBuf(2048 * 2048), fakeBuf(2048 * 16)];
      const calls = record((rec) => loraGradH(rec, dh, dout, B, 2048, 2048, 16, 1, { partials: fakeBuf(4 * 2048 * 16 + 5) }));
      expect(u(calls[0]).slice(9)).toEqual([512, 4, 2048 * 16]);
      expect(record((rec) => loraGradH(rec, dh, dout, B, 2048, 2048, 16, 1, { partials: fakeBuf(2048 * 16) })).length).toBe(1);
      expect(() => record((rec) => loraGradH(rec, dh, dout, B, 2048, 2048, 16, 1, { partials: fakeBuf(2048 * 16), slices: 4 }))).toThrow(/scratch/);
      expect(() => record((rec) => loraGradH(rec, dh, dout, B, 2048, 2048, 16, 1, { partials: dout }))).toThrow(/aliases/);
    });
  });
});
