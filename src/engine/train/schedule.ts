// Learning-rate schedules as transformers defines them (get_constant_schedule_with_warmup,
// get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup); `step` is the 0-based
// optimizer step about to be taken.
import type { TrainHyper } from './types';

export function learningRate(h: Pick<TrainHyper, 'lr' | 'schedule' | 'warmupSteps' | 'maxSteps'>, step: number): number {
  const warm = Math.max(0, h.warmupSteps);
  if (step < warm) return (h.lr * step) / Math.max(1, warm);
  if (h.schedule === 'constant') return h.lr;
  const progress = (step - warm) / Math.max(1, h.maxSteps - warm);
  if (h.schedule === 'linear') return h.lr * Math.max(0, 1 - progress);
  return h.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}
