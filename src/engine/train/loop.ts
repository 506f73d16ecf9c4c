// The training loop of every run, in the studio's worker and in the CLI: the steps of a plan with
// pause, resume and stop, metrics as events, validation at one cadence, checkpoints every N steps,
// at the end, on stop and after a diverged step. The GPU work is the trainer's; this file orders it.
// The data of step k is the plan's (plan.ts): a pure function of k, so a resumed run needs nothing
// but the checkpoint's step to continue with the same batches.
import { splitValidation } from '../../data/sequences';
import { DivergenceError } from './divergence';
import { itemSubset, type PlanItems, type TrainingPlan } from './plan';
import { countedTokens, type Batch, type StepResult } from './types';

export interface StepMetrics {
  step: number;
  maxSteps: number;
  loss: number;
  lr: number;
  gradNorm: number | null;
  /** Tokens in this step, and tokens per second over the run so far. */
  tokens: number;
  tokensPerSec: number;
  elapsedMs: number;
  etaMs: number | null;
  /** A preference method's metrics by TRL's name (rewards/chosen, ...); absent for SFT. */
  metrics?: Record<string, number | undefined>;
}

export type TrainState = 'starting' | 'running' | 'paused' | 'stopping';
export type TrainEnd = 'finished' | 'stopped';

export interface TrainResult {
  end: TrainEnd;
  steps: number;
  finalLoss: number | null;
  finalValLoss: number | null;
  ms: number;
}

/** What the loop needs of a trainer (Trainer, or the worker's bridge to it). */
export interface LoopTrainer {
  step(micro: Batch[]): Promise<StepResult>;
  evalLoss(batch: Batch): Promise<number>;
  /** A preference run's validation: the loss and TRL's metrics of a batch (else evalLoss is used). */
  evaluate?(batch: Batch): Promise<{ loss: number; metrics: Record<string, number | undefined> }>;
}

export interface LoopHooks {
  onStep(m: StepMetrics, epoch: number): void;
  /** metrics: a preference run's validation metrics (each the mean over the validation batches). */
  onEval(step: number, valLoss: number, metrics?: Record<string, number>): void;
  onState?(s: TrainState): void;
  /** Saves a checkpoint after `step` (awaited: the next step waits for it). */
  checkpoint?(step: number): Promise<void>;
}

export interface LoopOptions {
  maxSteps: number;
  /** Steps between validations (default evalCadence(maxSteps)); validation also runs after the last step. */
  evalEvery?: number;
  /** Steps between checkpoints (0 = only at the end, on stop and after a diverged step). */
  checkpointEvery: number;
  /** 0, or a resumed checkpoint's step. */
  startStep?: number;
}

/** The validation cadence of a run of `maxSteps` steps: ten validations. */
export function evalCadence(maxSteps: number): number {
  return Math.max(1, Math.floor(maxSteps / 10));
}

/** splitValidation over PlanItems, by index: the same split as on an array of the items, no item made. */
export function splitItems(items: PlanItems, fraction: number, seed: number): { train: PlanItems; validation: PlanItems } {
  const { train, validation } = splitValidation(Array.from({ length: items.length }, (_, i) => i), fraction, seed);
  return { train: itemSubset(items, train), validation: itemSubset(items, validation) };
}

/**
 * The held-out rule of every run: `count` examples (at most all but one) chosen by a seeded
 * shuffle (splitItems). The studio asks for a count, the CLI for a fraction (converted with heldOutCount).
 */
export function holdOut(items: PlanItems, count: number, seed: number): { train: PlanItems; validation: PlanItems } {
  return splitItems(items, items.length ? Math.min(count, items.length) / items.length : 0, seed);
}

/** A fraction of `n` examples as a count: rounded, at least one when the fraction is not 0. */
export function heldOutCount(n: number, fraction: number): number {
  return fraction > 0 && n >= 2 ? Math.max(1, Math.round(fraction * n)) : Math.round(fraction * n);
}

export class RunControl {
  private paused = false;
  private stopped = false;
  private wake: (() => void) | null = null;

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.wake?.();
  }
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
  get stopRequested(): boolean {
    return this.stopped;
  }
  get pauseRequested(): boolean {
    return this.paused;
  }
  /** Resolves when resumed or stopped. */
  waitWhilePaused(): Promise<void> {
    if (!this.paused || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        if (!this.paused || this.stopped) {
          this.wake = null;
          resolve();
        }
      };
    });
  }
}

/** Trains from opts.startStep (0, or a resumed checkpoint's step) to opts.maxSteps. */
export async function runLoop(
  trainer: LoopTrainer,
  plan: Pick<TrainingPlan, 'microBatches'>,
  valBatches: Batch[],
  opts: LoopOptions,
  control: RunControl,
  hooks: LoopHooks,
): Promise<TrainResult> {
  const { maxSteps, checkpointEvery } = opts;
  const startStep = opts.startStep ?? 0;
  const evalEvery = opts.evalEvery && opts.evalEvery > 0 ? opts.evalEvery : evalCadence(maxSteps);
  const t0 = performance.now();
  let pausedMs = 0;
  let tokensSeen = 0;
  let step = startStep;
  let savedStep = startStep;
  let finalLoss: number | null = null;
  let finalValLoss: number | null = null;
  const checkpoint = async (): Promise<void> => {
    if (step > savedStep && hooks.checkpoint) await hooks.checkpoint(step);
    savedStep = step;
  };

  const validate = async (): Promise<void> => {
    if (!valBatches.length) return;
    let sum = 0;
    const metrics: Record<string, number> = {};
    for (const b of valBatches) {
      if (!trainer.evaluate) {
        sum += await trainer.evalLoss(b);
        continue;
      }
      const r = await trainer.evaluate(b);
      sum += r.loss;
      for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + (v ?? Number.NaN) / valBatches.length;
    }
    finalValLoss = sum / valBatches.length;
    hooks.onEval(step, finalValLoss, trainer.evaluate ? metrics : undefined);
  };

  hooks.onState?.('running');
  while (step < maxSteps) {
    if (control.pauseRequested && !control.stopRequested) {
      hooks.onState?.('paused');
      const p0 = performance.now();
      await control.waitWhilePaused();
      pausedMs += performance.now() - p0;
      if (!control.stopRequested) hooks.onState?.('running');
    }
    if (control.stopRequested) break;
    const { epoch, micro } = plan.microBatches(step);
    let r: StepResult;
    try {
      r = await trainer.step(micro);
    } catch (e) {
      // The guard refused the step without applying it: the trainer holds the last good state,
      // which is kept before the error goes up.
      if (e instanceof DivergenceError) await checkpoint();
      throw e;
    }
    step++;
    finalLoss = r.loss;
    tokensSeen += r.tokens || micro.reduce((n, b) => n + countedTokens(b), 0);
    const elapsedMs = performance.now() - t0 - pausedMs;
    const done = step - startStep;
    hooks.onStep(
      {
        step,
        maxSteps,
        loss: r.loss,
        lr: r.lr,
        gradNorm: r.gradNorm,
        tokens: r.tokens,
        tokensPerSec: tokensSeen / Math.max(elapsedMs / 1000, 1e-3),
        elapsedMs,
        etaMs: step < maxSteps ? (elapsedMs / done) * (maxSteps - step) : 0,
        ...(r.metrics ? { metrics: r.metrics } : {}),
      },
      epoch,
    );
    if (step % evalEvery === 0 || step === maxSteps) await validate();
    if (checkpointEvery > 0 && step % checkpointEvery === 0 && step < maxSteps) await checkpoint();
  }
  if (control.stopRequested) hooks.onState?.('stopping');
  await checkpoint();
  return { end: step >= maxSteps ? 'finished' : 'stopped', steps: step, finalLoss, finalValLoss, ms: performance.now() - t0 };
}
