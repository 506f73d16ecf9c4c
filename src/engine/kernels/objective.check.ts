import type { KernelCheck } from './check';
import {
  fillWeights,
  fillWeightsCpu,
  METRIC_WORDS,
  preferenceLoss,
  preferenceLossCpu,
  rowWeights,
  rowWeightsCpu,
  sequenceLogps,
  sequenceLogpsCpu,
  type PreferenceMethod,
} from './objective';
import { maxAbsErr, randn, rng } from './random';

/** P pairs of sequence log-probs like a small model's (-5 to -80 over 3..40 tokens), a reference near them. */
function pairs(P: number, seed: number): { logp: Float32Array; ratio: Float32Array; tokens: Float32Array; scales: Float32Array } {
  const r = rng(seed);
  const tokens = Float32Array.from({ length: 2 * P }, () => 3 + Math.floor(r() * 38));
  const logp = Float32Array.from(tokens, (n) => -n * (1 + 4 * r()));
  const ratio = Float32Array.from(logp, () => (r() - 0.5) * 4);
  let chosen = 0;
  for (let i = 0; i < P; i++) chosen += tokens[i];
  return { logp, ratio, tokens, scales: Float32Array.from([1 / chosen, 1 / P]) };
}

function preferenceCheck(method: PreferenceMethod, P: number, beta: number): KernelCheck {
  return {
    name: `objective preference_loss ${method} P=${P} beta=${beta}`,
    async run(gpu) {
      const inp = pairs(P, P * 7 + beta * 100);
      const start = Float32Array.from({ length: METRIC_WORDS }, (_, k) => 0.5 * k);
      const b = {
        logp: gpu.upload(inp.logp, 'logp'),
        ratio: gpu.upload(inp.ratio, 'ratio'),
        tokens: gpu.upload(inp.tokens, 'tokens'),
        scales: gpu.upload(inp.scales, 'scales'),
        coef: gpu.createBuffer(2 * P * 4, 'coef'),
        loss: gpu.createBuffer(4, 'loss'),
        metrics: gpu.upload(start, 'metrics'),
      };
      await gpu.run((rec) => preferenceLoss(rec, b, P, method, beta));
      const got = { coef: await gpu.readF32(b.coef, 2 * P), loss: await gpu.readF32(b.loss, 1), metrics: await gpu.readF32(b.metrics, METRIC_WORDS) };
      for (const x of Object.values(b)) gpu.destroyBuffer(x);
      const want = { coef: new Float32Array(2 * P), loss: new Float32Array(1), metrics: start.slice() };
      preferenceLossCpu({ ...want, ...inp }, P, method, beta);
      const rel = (a: ArrayLike<number>, w: ArrayLike<number>) => maxAbsErr(a, w) / Math.max(1e-3, ...Array.from(w, Math.abs));
      return { error: Math.max(rel(got.coef, want.coef), rel(got.loss, want.loss), rel(got.metrics, want.metrics)), tolerance: 2e-5 };
    },
  };
}

function sequenceCheck(B: number, T: number, V: number): KernelCheck {
  return {
    name: `objective sequence_logps B=${B} T=${T}`,
    async run(gpu) {
      const r = rng(B * T);
      const losses = randn(B * T, T, 2).map(Math.abs);
      const refLosses = Float32Array.from(losses, (l) => l + (r() - 0.5) * 0.1);
      const targets = Int32Array.from({ length: B * T }, () => (r() < 0.3 ? -100 : Math.floor(r() * V)));
      for (let i = 0; i < targets.length; i++) if (targets[i] < 0) losses[i] = refLosses[i] = 0;
      const [lb, tb, rb] = [gpu.upload(losses, 'losses'), gpu.upload(targets, 'targets'), gpu.upload(refLosses, 'refLosses')];
      const outB = { logp: gpu.createBuffer(B * 4, 'logp'), tokens: gpu.createBuffer(B * 4, 'tokens'), ratio: gpu.createBuffer(B * 4, 'ratio') };
      await gpu.run((rec) => sequenceLogps(rec, outB, lb, tb, rb, B, T, V));
      const got = { logp: await gpu.readF32(outB.logp, B), tokens: await gpu.readF32(outB.tokens, B), ratio: await gpu.readF32(outB.ratio, B) };
      for (const x of [lb, tb, rb, ...Object.values(outB)]) gpu.destroyBuffer(x);
      const want = { logp: new Float32Array(B), tokens: new Float32Array(B), ratio: new Float32Array(B) };
      sequenceLogpsCpu(want, losses, targets, refLosses, B, T, V);
      const rel = (k: 'logp' | 'ratio') => maxAbsErr(got[k], want[k]) / Math.max(1, ...Array.from(want[k], Math.abs));
      return { error: Math.max(rel('logp'), rel('ratio'), maxAbsErr(got.tokens, want.tokens)), tolerance: 1e-6 };
    },
  };
}

function weightsCheck(N: number, T: number): KernelCheck {
  return {
    name: `objective fill_weights / row_weights N=${N} T=${T}`,
    async run(gpu) {
      const B = Math.ceil(N / T);
      const coef = randn(B, N, 1);
      const scales = Float32Array.from([0.125, 9]);
      const [cb, sb] = [gpu.upload(coef, 'coef'), gpu.upload(scales, 'scales')];
      const [fw, rw] = [gpu.createBuffer(N * 4, 'fill'), gpu.createBuffer(N * 4, 'rows')];
      await gpu.run((rec) => {
        fillWeights(rec, fw, sb, N);
        rowWeights(rec, rw, cb, N, T);
      });
      const [gotF, gotR] = [await gpu.readF32(fw, N), await gpu.readF32(rw, N)];
      for (const x of [cb, sb, fw, rw]) gpu.destroyBuffer(x);
      const [wantF, wantR] = [new Float32Array(N), new Float32Array(N)];
      fillWeightsCpu(wantF, scales, N);
      rowWeightsCpu(wantR, coef, N, T);
      return { error: Math.max(maxAbsErr(gotF, wantF), maxAbsErr(gotR, wantR)), tolerance: 0 };
    },
  };
}

export const objectiveChecks: KernelCheck[] = [
  ...(['dpo', 'ipo', 'orpo'] as const).flatMap((m) => [preferenceCheck(m, 1, 0.1), preferenceCheck(m, 3, 0.5), preferenceCheck(m, 300, 0.1)]),
  sequenceCheck(1, 1, 5),
  sequenceCheck(4, 17, 50),
  sequenceCheck(6, 700, 1000),
  weightsCheck(1, 1),
  weightsCheck(70, 14),
  weightsCheck(5000, 512),
];
