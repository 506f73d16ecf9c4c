import { describe, expect, it } from 'vitest';
import { objectiveChecks } from './objective.check';
import { METRIC_NAMES, METRIC_WORDS, preferenceLossCpu, type PreferenceMethod } from './objective';
import { itChecks } from './testing';

describe('objective kernels: GPU vs CPU', () => itChecks(objectiveChecks));

/** The loss of the CPU twin in f64 inputs (Float64Array through the Float32Array-typed twin). */
function lossAt(method: PreferenceMethod, logp: Float64Array, ratio: Float64Array, tokens: Float64Array, scales: Float64Array, beta: number): number {
  const P = logp.length / 2;
  const out = { coef: new Float64Array(2 * P), loss: new Float64Array(1), metrics: new Float64Array(METRIC_WORDS) };
  preferenceLossCpu({ ...out, logp, ratio, tokens, scales } as never, P, method, beta);
  return out.loss[0];
}

describe('preference losses (CPU twin)', () => {
  const logp = Float64Array.from([-20.5, -9.25, -14, -11.5, -30, -8]);
  const ref = Float64Array.from([-21, -9, -13.5, -11, -29, -9]);
  /** logp - ref, which moves with logp. */
  const ratioOf = (l: Float64Array) => Float64Array.from(l, (v, i) => v - ref[i]);
  const tokens = Float64Array.from([5, 3, 7, 4, 9, 2]);
  const scales = Float64Array.from([1 / 15, 1 / 3]);

  it.each(['dpo', 'ipo', 'orpo'] as const)('%s: coef is -dL/dlogp (central differences)', (method) => {
    const P = 3;
    const out = { coef: new Float64Array(2 * P), loss: new Float64Array(1), metrics: new Float64Array(METRIC_WORDS) };
    preferenceLossCpu({ ...out, logp, ratio: ratioOf(logp), tokens, scales } as never, P, method, 0.3);
    const h = 1e-5;
    for (let i = 0; i < 2 * P; i++) {
      const [up, down] = [logp.slice(), logp.slice()];
      up[i] += h;
      down[i] -= h;
      const fd = (lossAt(method, up, ratioOf(up), tokens, scales, 0.3) - lossAt(method, down, ratioOf(down), tokens, scales, 0.3)) / (2 * h);
      expect(Math.abs(-fd - out.coef[i]), `${method} row ${i}`).toBeLessThan(1e-7);
    }
  });

  it('DPO, IPO and ORPO as TRL writes them, on one pair by hand', () => {
    const one = (method: PreferenceMethod, beta: number) => {
      const out = { coef: new Float64Array(2), loss: new Float64Array(1), metrics: new Float64Array(METRIC_WORDS) };
      const inp = { logp: Float64Array.from([-10, -12]), ratio: Float64Array.from([1, -1]), tokens: Float64Array.from([4, 5]), scales: Float64Array.from([1 / 4, 1]) };
      preferenceLossCpu({ ...out, ...inp } as never, 1, method, beta);
      return out;
    };
    // DPO: z = 0.1 * ((-10 + 11) - (-12 + 11)) = 0.2; -log σ(0.2).
    expect(one('dpo', 0.1).loss[0]).toBeCloseTo(Math.log1p(Math.exp(-0.2)), 12);
    // IPO: h = 1/4 - (-1/5) = 0.45; (0.45 - 1/(2·0.5))² = 0.3025.
    expect(one('ipo', 0.5).loss[0]).toBeCloseTo(0.3025, 12);
    // ORPO: a = -2.5, -2.4; lo = -0.1 - (log(1 - e^-2.5) - log(1 - e^-2.4)); loss = 10/4 - 0.1 log σ(lo).
    const lo = -0.1 - (Math.log(1 - Math.exp(-2.5)) - Math.log(1 - Math.exp(-2.4)));
    const orpo = one('orpo', 0.1);
    expect(orpo.loss[0]).toBeCloseTo(2.5 + 0.1 * Math.log1p(Math.exp(-lo)), 12);
    expect(orpo.metrics[METRIC_NAMES.indexOf('log_odds_chosen')]).toBeCloseTo(lo, 12);
    expect(orpo.metrics[METRIC_NAMES.indexOf('nll_loss')]).toBeCloseTo(2.5, 12);
    // Rewards: β(logp - ref) for DPO; accuracy 1 when the chosen reward is the larger.
    const dpo = one('dpo', 0.1);
    expect([dpo.metrics[0], dpo.metrics[1], dpo.metrics[2]].map((v) => +v.toFixed(12))).toEqual([0.1, -0.1, 1]);
  });
});
