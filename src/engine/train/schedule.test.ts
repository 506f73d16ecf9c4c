import { describe, expect, it } from 'vitest';
import { learningRate } from './schedule';

describe('learning-rate schedules (transformers semantics)', () => {
  const base = { lr: 1e-3, warmupSteps: 10, maxSteps: 110 };
  it('warms up linearly from 0', () => {
    expect(learningRate({ ...base, schedule: 'constant' }, 0)).toBe(0);
    expect(learningRate({ ...base, schedule: 'constant' }, 5)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, schedule: 'constant' }, 10)).toBe(1e-3);
  });
  it('linear decays to zero at maxSteps', () => {
    expect(learningRate({ ...base, schedule: 'linear' }, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, schedule: 'linear' }, 110)).toBe(0);
  });
  it('cosine is half-way at the midpoint', () => {
    expect(learningRate({ ...base, schedule: 'cosine' }, 60)).toBeCloseTo(5e-4, 12);
    expect(learningRate({ ...base, schedule: 'cosine' }, 35)).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
  });
});
