import { describe, expect, it } from 'vitest';
import { optimizerChecks } from './optimizer.check';
import { adamwStepCpu, adamwStepParams, globalNormSquaredCpu, globalNormSquaredPartials } from './optimizer';
import { itChecks } from './testing';

describe('optimizer kernels: GPU vs CPU', () => itChecks(optimizerChecks));

describe('optimizer CPU twins', () => {
  it('adamwStepParams: lr, 1 - beta1^t, 1 - beta2^t', () => {
    const sp = adamwStepParams(1e-4, 0.9, 0.999, 3);
    expect(sp[0]).toBe(Math.fround(1e-4));
    expect(sp[1]).toBe(Math.fround(1 - 0.729));
    expect(sp[2]).toBe(Math.fround(1 - 0.999 ** 3));
  });

  it('globalNormSquaredCpu sums squares', () => {
    const out = new Float32Array(1);
    globalNormSquaredCpu(out, new Float32Array(globalNormSquaredPartials(3)), Float32Array.from([1, -2, 3]), 3);
    expect(out[0]).toBe(14);
  });

  // Values worked out by hand from torch.optim.AdamW's update rule (single element, two steps).
  it('adamwStepCpu follows torch AdamW and clip_grad_norm_', () => {
    const hp = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };
    const p = Float32Array.from([1]);
    const m = new Float32Array(1);
    const v = new Float32Array(1);
    // Step 1: grad 4, norm 4 -> clip 1/(4 + 1e-6); g ~ 1. m = 0.1 g, v = 0.001 g^2;
    // m_hat = g, v_hat = g^2 -> update lr * g / (|g| + eps) ~ lr.
    const lr = 0.01;
    adamwStepCpu(p, Float32Array.from([4]), m, v, Float32Array.from([16]), adamwStepParams(lr, 0.9, 0.999, 1), 1, hp);
    const g1 = 4 / (4 + 1e-6);
    const p1 = 1 * (1 - lr * 0.1) - lr * (g1 / (g1 + 1e-8));
    expect(p[0]).toBeCloseTo(p1, 7);
    expect(m[0]).toBeCloseTo(0.1 * g1, 7);
    expect(v[0]).toBeCloseTo(0.001 * g1 * g1, 9);
    // Step 2 without clipping (norm 0.5 under max 1): grad 0.5.
    adamwStepCpu(p, Float32Array.from([0.5]), m, v, Float32Array.from([0.25]), adamwStepParams(lr, 0.9, 0.999, 2), 1, hp);
    const m2 = 0.9 * Math.fround(0.1 * g1) + 0.1 * 0.5;
    const v2 = 0.999 * Math.fround(0.001 * g1 * g1) + 0.001 * 0.25;
    const p2 = Math.fround(p1) * (1 - lr * 0.1) - (lr / (1 - 0.81)) * (m2 / (Math.sqrt(v2) / Math.sqrt(1 - 0.999 ** 2) + 1e-8));
    expect(p[0]).toBeCloseTo(p2, 6);
  });
});
