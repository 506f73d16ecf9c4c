import { describe, expect, it } from 'vitest';
import { RunMetrics } from './metrics';
import type { StepMetrics } from '../worker/protocol';

const step = (n: number, metrics?: Record<string, number>): StepMetrics => ({ step: n, maxSteps: 9, loss: 1 / n, lr: 1e-3, gradNorm: 1, tokens: 10, tokensPerSec: 1, elapsedMs: 1, etaMs: 1, ...(metrics ? { metrics } : {}) });

describe('RunMetrics: a preference run', () => {
  it('keeps each metric as a series as long as the steps, with validation values at the steps validated', () => {
    const m = new RunMetrics();
    m.push(step(1, { 'rewards/margins': 0.1, 'rewards/accuracies': 0.5 }));
    m.push(step(2, { 'rewards/margins': 0.3, 'rewards/accuracies': 1 }));
    m.pushVal(2, 0.6, { 'rewards/margins': 0.2, 'rewards/accuracies': 0.75 });
    expect(m.metrics.get('rewards/margins')).toEqual([0.1, 0.3]);
    expect(m.valMetrics.get('rewards/accuracies')).toEqual([null, 0.75]);
    expect([m.latest('rewards/accuracies'), m.latest('rewards/accuracies', true), m.latest('nll_loss')]).toEqual([1, 0.75, null]);
    m.clear();
    expect(m.metrics.size + m.valMetrics.size).toBe(0);
  });

  it('restores them from a resumed run history (and from an SFT history without them)', () => {
    const m = new RunMetrics();
    m.restore({ steps: [1, 2], loss: [1, 0.5], lr: [1, 1], gradNorm: [1, 1], val: [[2, 0.7]], metrics: [{ log_odds_ratio: -0.7 }, { log_odds_ratio: -0.5 }], valMetrics: [[2, { log_odds_ratio: -0.6 }]] });
    expect(m.metrics.get('log_odds_ratio')).toEqual([-0.7, -0.5]);
    expect(m.valMetrics.get('log_odds_ratio')).toEqual([null, -0.6]);
    m.restore({ steps: [1], loss: [1], lr: [1], gradNorm: [1], val: [] });
    expect(m.metrics.size).toBe(0);
  });
});
