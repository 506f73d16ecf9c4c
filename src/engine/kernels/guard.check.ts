import type { KernelCheck } from './check';
import { GUARD, guardedAdamw, guardedAdamwCpu, guardWords, lossWord, type GuardBounds } from './guard';
import { adamwStepParams, globalNormSquared, globalNormSquaredCpu, globalNormSquaredPartials, type AdamWHyper } from './optimizer';
import { randn, relL2Err } from './random';

const hp: AdamWHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
const bounds: GuardBounds = { loss: 50, gradNorm: 1e6, param: 1e4 };

interface Case {
  label: string;
  n: number;
  lr: number;
  losses: number[];
  /** Changes the gradients (e.g. writes a NaN). */
  grads?: (g: Float32Array) => void;
  /** The flags the case must raise (0 = healthy): the check also fails when the CPU twin disagrees. */
  want: number;
  hp?: AdamWHyper;
}

/**
 * One guarded AdamW step on the GPU and on the CPU twin from the same state. The error is the
 * parameters' and moments' relative L2 error, or Infinity when the flags differ from each other
 * or from the case's expectation, or when a flagged step changed the state.
 */
function guardCheck(c: Case): KernelCheck {
  return {
    name: `guarded adamw n=${c.n} ${c.label}`,
    async run(gpu) {
      const { n } = c;
      const h = c.hp ?? hp;
      const params = randn(n, 1, 0.1);
      const m = randn(n, 2, 0.01);
      const v = randn(n, 3, 0.01).map((x) => x * x);
      const grads = randn(n, 4, 0.5);
      c.grads?.(grads);
      const before = [params.slice(), m.slice(), v.slice()];
      const slots = c.losses.length;
      const result = new Uint32Array(guardWords(slots));
      const resultF = new Float32Array(result.buffer);
      c.losses.forEach((l, i) => (resultF[lossWord(i)] = l));
      const sp = adamwStepParams(c.lr, h.beta1, h.beta2, 1);
      const parts = globalNormSquaredPartials(n);
      const bufs = {
        params: gpu.upload(params, 'params'),
        grads: gpu.upload(grads, 'grads'),
        m: gpu.upload(m, 'm'),
        v: gpu.upload(v, 'v'),
        normSq: gpu.createBuffer(4, 'normSq'),
        stepParams: gpu.upload(sp, 'stepParams'),
        result: gpu.upload(resultF, 'result'),
      };
      const partials = gpu.createBuffer(parts * 4, 'partials');
      await gpu.run((rec) => {
        globalNormSquared(rec, bufs.normSq, partials, bufs.grads, n);
        guardedAdamw(rec, bufs, n, slots, h, bounds);
      });
      const gotP = await gpu.readF32(bufs.params, n);
      const gotM = await gpu.readF32(bufs.m, n);
      const gotV = await gpu.readF32(bufs.v, n);
      const gotWords = new Uint32Array((await gpu.readF32(bufs.result, result.length)).buffer);
      for (const b of [...Object.values(bufs), partials]) gpu.destroyBuffer(b);

      const normSq = new Float32Array(1);
      globalNormSquaredCpu(normSq, new Float32Array(parts), grads, n);
      guardedAdamwCpu({ params, grads, m, v, normSq, stepParams: sp, result }, n, slots, h, bounds);
      if (gotWords[0] !== result[0] || result[0] !== c.want) {
        throw new Error(`flags: GPU ${gotWords[0]}, CPU ${result[0]}, expected ${c.want}`);
      }
      if (c.want !== 0) {
        // A flagged step must leave the state bit for bit as it was.
        const same = (a: Float32Array, b: Float32Array) => a.every((x, i) => Object.is(x, b[i]));
        if (!same(gotP, before[0]) || !same(gotM, before[1]) || !same(gotV, before[2])) throw new Error('a flagged step changed the state');
      }
      return { error: Math.max(relL2Err(gotP, params), relL2Err(gotM, m), relL2Err(gotV, v)), tolerance: 2e-6 };
    },
  };
}

export const guardChecks: KernelCheck[] = [
  guardCheck({ label: 'healthy', n: 1000, lr: 1e-3, losses: [2.5, 1.25], want: 0 }),
  guardCheck({ label: 'healthy, one slot unused', n: 70_001, lr: 1e-3, losses: [2.5, 0], want: 0 }),
  guardCheck({ label: 'NaN loss', n: 1000, lr: 1e-3, losses: [Number.NaN], want: GUARD.lossNonFinite }),
  guardCheck({ label: '-Inf loss', n: 300, lr: 1e-3, losses: [1, Number.NEGATIVE_INFINITY], want: GUARD.lossNonFinite }),
  guardCheck({ label: 'loss over bound', n: 300, lr: 1e-3, losses: [60], want: GUARD.lossOverBound }),
  guardCheck({
    label: 'NaN gradient',
    n: 1000,
    lr: 1e-3,
    losses: [2],
    grads: (g) => (g[517] = Number.NaN),
    want: GUARD.gradNonFinite | GUARD.updateNonFinite,
  }),
  guardCheck({ label: 'gradient norm over bound', n: 1000, lr: 1e-3, losses: [2], grads: (g) => (g[3] = 3e6), want: GUARD.gradOverBound }),
  // The case: a huge learning rate throws the parameters to about ±lr in one step.
  guardCheck({ label: 'lr 1e6: parameters over bound', n: 1000, lr: 1e6, losses: [2], want: GUARD.paramOverBound }),
  guardCheck({
    label: 'no clipping, Inf gradient',
    n: 500,
    lr: 1e-3,
    losses: [2],
    grads: (g) => (g[0] = Number.POSITIVE_INFINITY),
    want: GUARD.gradNonFinite | GUARD.updateNonFinite,
    hp: { ...hp, maxGradNorm: 0 },
  }),
];
