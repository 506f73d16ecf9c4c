import { describe, expect, it } from 'vitest';
import { truncateHistory } from './run';

describe('truncateHistory', () => {
  it("cuts a preference run's metrics and validation metrics at the checkpoint, as its losses", () => {
    const h = {
      steps: [1, 2, 3],
      loss: [3, 2, 1],
      lr: [1, 1, 1],
      gradNorm: [1, 1, null],
      val: [[2, 2.5], [3, 1.5]] as Array<[number, number]>,
      metrics: [{ 'rewards/margins': 0.1 }, { 'rewards/margins': 0.2 }, { 'rewards/margins': 0.3 }],
      valMetrics: [[2, { 'rewards/accuracies': 0.5 }], [3, { 'rewards/accuracies': 1 }]] as Array<[number, Record<string, number>]>,
    };
    const cut = truncateHistory(h, 2);
    expect(cut.metrics).toEqual([{ 'rewards/margins': 0.1 }, { 'rewards/margins': 0.2 }]);
    expect(cut.valMetrics).toEqual([[2, { 'rewards/accuracies': 0.5 }]]);
    expect(cut.loss).toEqual([3, 2]);
    // An SFT history stays without them.
    expect('metrics' in truncateHistory({ ...h, metrics: undefined, valMetrics: undefined }, 2)).toBe(false);
  });
});
