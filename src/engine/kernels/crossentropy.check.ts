import type { KernelCheck } from './check';
import {
  crossEntropyForward,
  crossEntropyForwardBackward,
  crossEntropyForwardBackwardCpu,
  crossEntropyForwardCpu,
  lossSum,
  lossSumCpu,
  softcapLogits,
  softcapLogitsCpu,
} from './crossentropy';
import { maxAbsErr, randn, rng } from './random';

/** Targets in [0, V) with roughly a quarter ignored (-100); the first row is always counted. */
function makeTargets(N: number, V: number, seed: number): Int32Array {
  const r = rng(seed);
  const t = new Int32Array(N);
  for (let i = 0; i < N; i++) t[i] = i > 0 && r() < 0.25 ? -100 : Math.floor(r() * V);
  return t;
}

/** Per-row weights: 1 / counted rows, varied per row (a preference loss weighs each sequence differently). */
function rowWeights(targets: Int32Array): Float32Array {
  const counted = targets.filter((t) => t >= 0).length;
  return Float32Array.from(targets, (_, r) => (r % 3 === 2 ? -0.5 : 1 + 0.25 * (r % 4)) / Math.max(1, counted));
}

// [N, V, logit std]: ragged V (not a multiple of 256), V below the workgroup size, Qwen's vocab.
const shapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [5, 7, 3],
  [9, 1000, 2],
  [33, 257, 10],
  [4, 32_003, 4],
  [3, 151_936, 3],
];

function fbCheck([N, V, std]: [number, number, number]): KernelCheck {
  return {
    name: `crossentropy forward+backward N=${N} V=${V}`,
    async run(gpu) {
      const logits = randn(N * V, N + V, std);
      const targets = makeTargets(N, V, V);
      const scale = rowWeights(targets);
      const losses = new Float32Array(N).fill(Number.NaN);
      const lb = gpu.upload(losses, 'losses');
      const xb = gpu.upload(logits, 'logits');
      const tb = gpu.upload(targets, 'targets');
      const sb = gpu.upload(scale, 'lossScale');
      const ob = gpu.createBuffer(4, 'out');
      await gpu.run((rec) => {
        crossEntropyForwardBackward(rec, lb, xb, tb, sb, N, V);
        lossSum(rec, ob, lb, sb, N);
      });
      const gotLoss = await gpu.readF32(lb, N);
      const gotGrad = await gpu.readF32(xb, N * V);
      const gotSum = await gpu.readF32(ob, 1);
      for (const b of [lb, xb, tb, sb, ob]) gpu.destroyBuffer(b);
      crossEntropyForwardBackwardCpu(losses, logits, targets, scale, N, V);
      const sum = new Float32Array(1);
      lossSumCpu(sum, losses, scale, N);
      // Loss relative to its magnitude; gradients relative to the scale they are multiplied by.
      const lossErr = maxAbsErr(gotLoss, losses) / Math.max(1, ...Array.from(losses, Math.abs));
      const gradErr = maxAbsErr(gotGrad, logits) / Math.max(...Array.from(scale, Math.abs));
      const sumErr = Math.abs(gotSum[0] - sum[0]) / Math.max(1, Math.abs(sum[0]));
      return { error: Math.max(lossErr, gradErr, sumErr), tolerance: 2e-6 };
    },
  };
}

function fwdCheck([N, V, std]: [number, number, number]): KernelCheck {
  return {
    name: `crossentropy forward N=${N} V=${V}`,
    async run(gpu) {
      const logits = randn(N * V, 2 * N + V, std);
      const targets = makeTargets(N, V, V + 1);
      const losses = new Float32Array(N).fill(Number.NaN);
      const lb = gpu.upload(losses, 'losses');
      const xb = gpu.upload(logits, 'logits');
      const tb = gpu.upload(targets, 'targets');
      await gpu.run((rec) => crossEntropyForward(rec, lb, xb, tb, N, V));
      const gotLoss = await gpu.readF32(lb, N);
      const after = await gpu.readF32(xb, N * V);
      for (const b of [lb, xb, tb]) gpu.destroyBuffer(b);
      crossEntropyForwardCpu(losses, logits, targets, N, V);
      const lossErr = maxAbsErr(gotLoss, losses) / Math.max(1, ...Array.from(losses, Math.abs));
      // The logits must come back untouched.
      return { error: Math.max(lossErr, maxAbsErr(after, logits)), tolerance: 2e-6 };
    },
  };
}

/** Huge logits (1e4 apart) must not overflow: the max is subtracted before exp. */
const stable: KernelCheck = {
  name: 'crossentropy stays finite for logits of magnitude 1e4',
  async run(gpu) {
    const [N, V] = [3, 300];
    const logits = randn(N * V, 9, 1);
    for (let i = 0; i < logits.length; i++) logits[i] *= 1e4;
    const targets = Int32Array.from([5, -100, 299]);
    const scale = Float32Array.from([0.5, 0.5, -0.25]);
    const losses = new Float32Array(N);
    const lb = gpu.upload(losses, 'losses');
    const xb = gpu.upload(logits, 'logits');
    const tb = gpu.upload(targets, 'targets');
    const sb = gpu.upload(scale, 'lossScale');
    await gpu.run((rec) => crossEntropyForwardBackward(rec, lb, xb, tb, sb, N, V));
    const gotLoss = await gpu.readF32(lb, N);
    const gotGrad = await gpu.readF32(xb, N * V);
    for (const b of [lb, xb, tb, sb]) gpu.destroyBuffer(b);
    crossEntropyForwardBackwardCpu(losses, logits, targets, scale, N, V);
    const lossErr = maxAbsErr(gotLoss, losses) / Math.max(1, ...Array.from(losses, Math.abs));
    return { error: Math.max(lossErr, maxAbsErr(gotGrad, logits)), tolerance: 1e-6 };
  },
};

/** lossSum alone over a ragged count, larger than its workgroup. */
const sumCheck: KernelCheck = {
  name: 'lossSum N=1001',
  async run(gpu) {
    const N = 1001;
    const losses = randn(N, 77, 3).map(Math.abs);
    const scale = Float32Array.from({ length: N }, (_, i) => (1 + (i % 5)) / 997);
    const lb = gpu.upload(losses, 'losses');
    const sb = gpu.upload(scale, 'lossScale');
    const ob = gpu.createBuffer(4, 'out');
    await gpu.run((rec) => lossSum(rec, ob, lb, sb, N));
    const got = await gpu.readF32(ob, 1);
    for (const b of [lb, sb, ob]) gpu.destroyBuffer(b);
    const want = new Float32Array(1);
    lossSumCpu(want, losses, scale, N);
    return { error: Math.abs(got[0] - want[0]) / Math.abs(want[0]), tolerance: 1e-6 };
  },
};

/**
 * final_logit_softcapping: softcapLogits (logits far past the cap, and 0) then the fused loss with
 * the cap's derivative and per-row weights (a preference loss on Gemma 2), against the CPU twins.
 */
function softcapCheck([N, V, std]: [number, number, number], cap: number): KernelCheck {
  return {
    name: `crossentropy with final_logit_softcapping ${cap} N=${N} V=${V}`,
    async run(gpu) {
      const logits = randn(N * V, 3 * N + V, std);
      logits[0] = 1e4;
      logits[Math.min(1, N * V - 1)] = -1e4;
      const targets = makeTargets(N, V, V + 2);
      const scale = rowWeights(targets);
      const capped = logits.slice();
      const lb = gpu.upload(new Float32Array(N).fill(Number.NaN), 'losses');
      const xb = gpu.upload(logits, 'logits');
      const tb = gpu.upload(targets, 'targets');
      const sb = gpu.upload(scale, 'lossScale');
      await gpu.run((rec) => softcapLogits(rec, xb, N, V, cap));
      const gotCapped = await gpu.readF32(xb, N * V);
      await gpu.run((rec) => crossEntropyForwardBackward(rec, lb, xb, tb, sb, N, V, cap));
      const gotLoss = await gpu.readF32(lb, N);
      const gotGrad = await gpu.readF32(xb, N * V);
      for (const b of [lb, xb, tb, sb]) gpu.destroyBuffer(b);
      softcapLogitsCpu(capped, N * V, cap);
      const cappedErr = maxAbsErr(gotCapped, capped) / cap;
      const losses = new Float32Array(N);
      crossEntropyForwardBackwardCpu(losses, capped, targets, scale, N, V, cap);
      const lossErr = maxAbsErr(gotLoss, losses) / Math.max(1, ...Array.from(losses, Math.abs));
      return { error: Math.max(cappedErr, lossErr, maxAbsErr(gotGrad, capped) / Math.max(...Array.from(scale, Math.abs))), tolerance: 2e-6 };
    },
  };
}

export const crossEntropyChecks: KernelCheck[] = [
  ...shapes.map(fbCheck),
  ...shapes.map(fwdCheck),
  stable,
  sumCheck,
  softcapCheck([5, 7, 3], 2),
  softcapCheck([4, 32_003, 4], 30),
];
