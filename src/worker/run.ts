// One training run inside the worker: the step loop with pause, resume and stop, metrics as
// events, held-out validation, and checkpoints every N steps and at the end. The GPU work is the
// trainer's (which also refuses a NaN or infinite loss with a typed error); this file orders it.
// The data of step k is the plan's (src/engine/train/plan.ts): a pure function of k, so a resumed
// run needs nothing but the checkpoint's step to continue with the same batches.
import type { TrainingPlan } from '../engine/train/plan';
import { countedTokens, type Batch } from '../engine/train/types';
import type { TrainerLike } from './engine-bridge';
import type { StepMetrics, TrainResult, TrainSettings, TrainState } from './protocol';

export interface RunHooks {
  onStep(m: StepMetrics): void;
  onEval(step: number, valLoss: number): void;
  onState(s: TrainState): void;
  /** Saves a checkpoint after `step` (awaited: the next step waits for it). */
  checkpoint(step: number): Promise<void>;
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

/** Trains from `startStep` (0, or a resumed checkpoint's step) to settings.train.maxSteps. */
export async function runTraining(
  trainer: TrainerLike,
  plan: Pick<TrainingPlan, 'microBatches'>,
  valBatches: Batch[],
  settings: TrainSettings,
  control: RunControl,
  hooks: RunHooks,
  startStep = 0,
): Promise<TrainResult> {
  const { maxSteps } = settings.train;
  const evalEvery = Math.max(1, Math.floor(maxSteps / 10));
  const t0 = performance.now();
  let pausedMs = 0;
  let tokensSeen = 0;
  let step = startStep;
  let savedStep = startStep;
  let finalLoss: number | null = null;
  let finalValLoss: number | null = null;

  const validate = async (): Promise<void> => {
    if (!valBatches.length) return;
    let sum = 0;
    for (const b of valBatches) sum += await trainer.evalLoss(b);
    finalValLoss = sum / valBatches.length;
    hooks.onEval(step, finalValLoss);
  };

  hooks.onState('running');
  while (step < maxSteps) {
    if (control.pauseRequested && !control.stopRequested) {
      hooks.onState('paused');
      const p0 = performance.now();
      await control.waitWhilePaused();
      pausedMs += performance.now() - p0;
      if (!control.stopRequested) hooks.onState('running');
    }
    if (control.stopRequested) break;
    const { micro } = plan.microBatches(step);
    const r = await trainer.step(micro);
    step++;
    finalLoss = r.loss;
    tokensSeen += r.tokens || micro.reduce((n, b) => n + countedTokens(b), 0);
    const elapsedMs = performance.now() - t0 - pausedMs;
    const done = step - startStep;
    hooks.onStep({
      step,
      maxSteps,
      loss: r.loss,
      lr: r.lr,
      gradNorm: r.gradNorm,
      tokens: r.tokens,
      tokensPerSec: tokensSeen / Math.max(elapsedMs / 1000, 1e-3),
      elapsedMs,
      etaMs: step < maxSteps ? (elapsedMs / done) * (maxSteps - step) : 0,
    });
    if (step % evalEvery === 0 || step === maxSteps) await validate();
    if (settings.checkpointEvery > 0 && step % settings.checkpointEvery === 0 && step < maxSteps) {
      await hooks.checkpoint(step);
      savedStep = step;
    }
  }
  if (control.stopRequested) hooks.onState('stopping');
  if (step > savedStep) await hooks.checkpoint(step);
  return { end: step >= maxSteps ? 'finished' : 'stopped', steps: step, finalLoss, finalValLoss, ms: performance.now() - t0 };
}
