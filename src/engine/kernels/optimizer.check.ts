import type { KernelCheck } from './check';
import {
  adamwStep,
  adamwStepCpu,
  adamwStepParams,
  globalNormSquared,
  globalNormSquaredCpu,
  globalNormSquaredPartials,
  type AdamWHyper,
} from './optimizer';
import { randn, relL2Err } from './random';

// Ragged sizes; 300_001 uses several partials; 2_000_000 hits the partials cap (1024 workgroups).
const normSizes = [1, 255, 1000, 300_001, 2_000_000];

const normChecks: KernelCheck[] = normSizes.map((n) => ({
  name: `globalNormSquared n=${n}`,
  async run(gpu) {
    const x = randn(n, n, 0.5);
    const parts = globalNormSquaredPartials(n);
    const xb = gpu.upload(x, 'x');
    const pb = gpu.createBuffer(parts * 4, 'partials');
    const ob = gpu.createBuffer(4, 'out');
    await gpu.run((rec) => globalNormSquared(rec, ob, pb, xb, n));
    const got = await gpu.readF32(ob, 1);
    const gotParts = await gpu.readF32(pb, parts);
    for (const b of [xb, pb, ob]) gpu.destroyBuffer(b);
    const want = new Float32Array(1);
    const wantParts = new Float32Array(parts);
    globalNormSquaredCpu(want, wantParts, x, n);
    const err = Math.max(Math.abs(got[0] - want[0]) / want[0], relL2Err(gotParts, wantParts));
    return { error: err, tolerance: 1e-5 };
  },
}));

/**
 * Five AdamW steps on the GPU and on the CPU twin from the same state, with the global norm
 * recomputed on each side every step. `clipped` picks a max norm below the gradient norm.
 */
function adamwCheck(n: number, hp: AdamWHyper, label: string): KernelCheck {
  return {
    name: `adamw 5 steps n=${n} ${label}`,
    async run(gpu) {
      const params = randn(n, 1, 0.1);
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      const lr = 2e-3;
      const pb = gpu.upload(params, 'params');
      const mb = gpu.upload(m, 'm');
      const vb = gpu.upload(v, 'v');
      const gb = gpu.createBuffer(n * 4, 'grads');
      const parts = globalNormSquaredPartials(n);
      const partsB = gpu.createBuffer(parts * 4, 'partials');
      const nb = gpu.createBuffer(4, 'normSq');
      const sb = gpu.createBuffer(12, 'stepParams');
      // Health words all 0: the unguarded update (src/engine/kernels/guard.ts checks the guard).
      const guard = gpu.createBuffer(16, 'guard');
      const normSq = new Float32Array(1);
      for (let step = 1; step <= 5; step++) {
        // Gradients of varying scale, some exactly 0 (the v = 0 corner).
        const grads = randn(n, 100 + step, step === 3 ? 1e-3 : 2);
        for (let i = 0; i < n; i += 7) grads[i] = 0;
        const sp = adamwStepParams(lr, hp.beta1, hp.beta2, step);
        gpu.write(gb, grads);
        gpu.write(sb, sp);
        await gpu.run((rec) => {
          globalNormSquared(rec, nb, partsB, gb, n);
          adamwStep(rec, pb, gb, mb, vb, nb, sb, n, hp, guard);
        });
        globalNormSquaredCpu(normSq, new Float32Array(parts), grads, n);
        adamwStepCpu(params, grads, m, v, normSq, sp, n, hp);
      }
      const got = await gpu.readF32(pb, n);
      const gotM = await gpu.readF32(mb, n);
      const gotV = await gpu.readF32(vb, n);
      for (const b of [pb, mb, vb, gb, partsB, nb, sb, guard]) gpu.destroyBuffer(b);
      const err = Math.max(relL2Err(got, params), relL2Err(gotM, m), relL2Err(gotV, v));
      return { error: err, tolerance: 2e-6 };
    },
  };
}

const base: AdamWHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };

export const optimizerChecks: KernelCheck[] = [
  ...normChecks,
  adamwCheck(1, base, 'clipped'),
  adamwCheck(1000, base, 'clipped'),
  adamwCheck(70_001, { ...base, maxGradNorm: 0, weightDecay: 0 }, 'no clip, no decay'),
  adamwCheck(4099, { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1, maxGradNorm: 1e4 }, 'norm under max'),
];
