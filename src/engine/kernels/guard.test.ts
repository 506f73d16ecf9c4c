import { describe, expect, it } from 'vitest';
import { guardChecks } from './guard.check';
import { GUARD, guardedAdamwCpu, guardWords, lossWord } from './guard';
import { adamwStepParams } from './optimizer';
import { itChecks } from './testing';

describe('divergence guard: GPU vs CPU', () => itChecks(guardChecks));

describe('divergence guard CPU twin', () => {
  const hp = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };
  const bounds = { loss: 50, gradNorm: 1e6, param: 1e4 };
  const step = (lr: number, loss: number, grad: number) => {
    const result = new Uint32Array(guardWords(1));
    new Float32Array(result.buffer)[lossWord(0)] = loss;
    const state = {
      params: Float32Array.from([0.5]),
      grads: Float32Array.from([grad]),
      m: new Float32Array(1),
      v: new Float32Array(1),
      normSq: Float32Array.from([grad * grad]),
      stepParams: adamwStepParams(lr, 0.9, 0.999, 1),
      result,
    };
    guardedAdamwCpu(state, 1, 1, hp, bounds);
    return { flags: result[0], p: state.params[0] };
  };

  // Worked by hand: AdamW's first step moves a parameter by lr (m_hat / sqrt(v_hat) = 1).
  it('applies a healthy step: 0.5 - lr', () => {
    const r = step(0.01, 2, 0.25);
    expect(r.flags).toBe(0);
    expect(r.p).toBeCloseTo(0.49, 6);
  });
  it('flags and skips a step that moves a parameter to about 1e6', () => {
    expect(step(1e6, 2, 0.25)).toEqual({ flags: GUARD.paramOverBound, p: 0.5 });
  });
  it('flags and skips a NaN loss without comparing it', () => {
    expect(step(0.01, Number.NaN, 0.25)).toEqual({ flags: GUARD.lossNonFinite, p: 0.5 });
  });
});
