// Per-step training metrics, kept outside React: the chart subscribes here and redraws on a
// canvas at most once per animation frame, so a step never re-renders components.
import type { StepMetrics } from '../worker/protocol';
import type { RunHistory } from '../worker/run-store';

export type Series = 'loss' | 'smooth' | 'val' | 'lr' | 'gradNorm';

export class RunMetrics {
  readonly steps: number[] = [];
  readonly loss: number[] = [];
  /** Exponential moving average of the loss, bias-corrected (as TensorBoard's smoothing). */
  readonly smooth: number[] = [];
  readonly val: Array<number | null> = [];
  readonly lr: number[] = [];
  readonly gradNorm: Array<number | null> = [];
  private ema = 0;
  private listeners = new Set<() => void>();

  constructor(readonly smoothing = 0.8) {}

  push(m: StepMetrics): void {
    this.ema = this.smoothing * this.ema + (1 - this.smoothing) * m.loss;
    this.steps.push(m.step);
    this.loss.push(m.loss);
    this.smooth.push(this.ema / (1 - this.smoothing ** this.steps.length));
    this.val.push(null);
    this.lr.push(m.lr);
    this.gradNorm.push(m.gradNorm);
    this.emit();
  }

  /** Records a validation loss at a step already pushed (or the last one). */
  pushVal(step: number, valLoss: number): void {
    let i = this.steps.lastIndexOf(step);
    if (i < 0) i = this.steps.length - 1;
    if (i < 0) return;
    this.val[i] = valLoss;
    this.emit();
  }

  /** Replaces the series with a resumed run's history. */
  restore(h: RunHistory): void {
    this.clear();
    h.steps.forEach((step, i) => {
      this.ema = this.smoothing * this.ema + (1 - this.smoothing) * h.loss[i];
      this.steps.push(step);
      this.loss.push(h.loss[i]);
      this.smooth.push(this.ema / (1 - this.smoothing ** this.steps.length));
      this.val.push(null);
      this.lr.push(h.lr[i]);
      this.gradNorm.push(h.gradNorm[i]);
    });
    for (const [step, v] of h.val) {
      const i = this.steps.indexOf(step);
      if (i >= 0) this.val[i] = v;
    }
    this.emit();
  }

  clear(): void {
    for (const a of [this.steps, this.loss, this.smooth, this.val, this.lr, this.gradNorm]) a.length = 0;
    this.ema = 0;
    this.emit();
  }

  get length(): number {
    return this.steps.length;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

/** The metrics of the current (or last) run. */
export const runMetrics = new RunMetrics();
