// Per-step training metrics, kept outside React: the chart subscribes here and redraws on a
// canvas at most once per animation frame, so a step never re-renders components.
import type { StepMetrics } from '../worker/protocol';
import type { RunHistory } from '../worker/run-store';
import type { Method } from '../engine/train/types';

/** The preference metrics the chart draws beside the loss, by TRL's names (the engine reports more: objective.ts METHOD_METRICS). */
export const CHART_METRICS: Record<Method, readonly string[]> = {
  sft: [],
  dpo: ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies'],
  ipo: ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies'],
  orpo: ['log_odds_ratio', 'nll_loss'],
};

export type Series = 'loss' | 'smooth' | 'val' | 'lr' | 'gradNorm';

export class RunMetrics {
  readonly steps: number[] = [];
  readonly loss: number[] = [];
  /** Exponential moving average of the loss, bias-corrected (as TensorBoard's smoothing). */
  readonly smooth: number[] = [];
  readonly val: Array<number | null> = [];
  readonly lr: number[] = [];
  readonly gradNorm: Array<number | null> = [];
  /** A preference run's metrics by TRL's name, one value (or null) per step; and their validation values at the steps validated. */
  readonly metrics = new Map<string, Array<number | null>>();
  readonly valMetrics = new Map<string, Array<number | null>>();
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
    this.pushMetrics(m.metrics);
    this.emit();
  }

  /** The step just pushed: its metrics (absent ones null), every series kept as long as `steps`. */
  private pushMetrics(values: Record<string, number | undefined> | undefined): void {
    const n = this.steps.length;
    for (const [name, v] of Object.entries(values ?? {})) {
      if (!this.metrics.has(name)) this.metrics.set(name, []);
      if (!this.valMetrics.has(name)) this.valMetrics.set(name, []);
      this.metrics.get(name)!.length = n - 1;
      this.metrics.get(name)!.push(typeof v === 'number' ? v : null);
    }
    for (const series of [...this.metrics.values(), ...this.valMetrics.values()]) while (series.length < n) series.push(null);
  }

  /** Records a validation loss (and a preference run's validation metrics) at a step already pushed (or the last one). */
  pushVal(step: number, valLoss: number, metrics?: Record<string, number>): void {
    let i = this.steps.lastIndexOf(step);
    if (i < 0) i = this.steps.length - 1;
    if (i < 0) return;
    this.val[i] = valLoss;
    for (const [name, v] of Object.entries(metrics ?? {})) {
      if (!this.valMetrics.has(name)) this.valMetrics.set(name, new Array<number | null>(this.steps.length).fill(null));
      this.valMetrics.get(name)![i] = v;
    }
    this.emit();
  }

  /** The last value of a metric's series (training, or validation with `val`), or null. */
  latest(name: string, val = false): number | null {
    const series = (val ? this.valMetrics : this.metrics).get(name) ?? [];
    for (let i = series.length - 1; i >= 0; i--) if (series[i] !== null) return series[i];
    return null;
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
      this.pushMetrics(h.metrics?.[i]);
    });
    for (const [step, v] of h.val) {
      const i = this.steps.indexOf(step);
      if (i >= 0) this.val[i] = v;
    }
    for (const [step, metrics] of h.valMetrics ?? []) {
      const i = this.steps.indexOf(step);
      if (i < 0) continue;
      for (const [name, v] of Object.entries(metrics)) {
        if (!this.valMetrics.has(name)) this.valMetrics.set(name, new Array<number | null>(this.steps.length).fill(null));
        this.valMetrics.get(name)![i] = v;
      }
    }
    this.emit();
  }

  clear(): void {
    for (const a of [this.steps, this.loss, this.smooth, this.val, this.lr, this.gradNorm]) a.length = 0;
    this.metrics.clear();
    this.valMetrics.clear();
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
