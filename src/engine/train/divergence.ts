// The error a training step throws when the GPU's divergence guard (src/engine/kernels/guard.ts)
// flags it. The step's update was not applied, so the trainer still holds the state of the step
// before; the message says what went wrong and what to change.
import { GpuError } from '../../gpu/errors';
import { GUARD, type GuardBounds, type StepHealth } from '../kernels/guard';
import type { TrainHyper } from './types';

function what(h: StepHealth, b: GuardBounds): string[] {
  const out: string[] = [];
  const f = h.flags;
  if (f & GUARD.lossNonFinite) out.push(`the loss is not finite (${h.loss})`);
  if (f & GUARD.lossOverBound) out.push(`the loss ${h.loss.toPrecision(4)} is beyond ${b.loss.toPrecision(3)}`);
  if (f & GUARD.gradNonFinite) out.push(`the gradient norm is not finite (${Math.sqrt(h.gradNormSq)})`);
  if (f & GUARD.gradOverBound) out.push(`the gradient norm ${Math.sqrt(h.gradNormSq).toExponential(2)} is beyond ${b.gradNorm.toExponential(0)}`);
  if (f & GUARD.updateNonFinite) out.push('the update would make parameters or optimizer moments non-finite');
  if (f & GUARD.paramOverBound) out.push(`the update would move a LoRA parameter to ${h.maxParam.toExponential(2)}, beyond ${b.param.toExponential(0)}`);
  return out;
}

export class DivergenceError extends GpuError {
  override name = 'DivergenceError';

  constructor(
    /** The 1-based step that was refused. */
    readonly step: number,
    readonly health: StepHealth,
    bounds: GuardBounds,
    hyper: Pick<TrainHyper, 'lr' | 'maxGradNorm'>,
    lr: number,
  ) {
    const advice = [`lower the learning rate (it is ${hyper.lr}${lr !== hyper.lr ? `, ${lr.toPrecision(3)} at this step` : ''}; try ${(hyper.lr / 10).toPrecision(2)} or less)`];
    advice.push(hyper.maxGradNorm > 0 ? `keep gradient clipping on (max grad norm ${hyper.maxGradNorm})` : 'turn gradient clipping on (max grad norm 1)');
    super(
      `training diverged at step ${step}: ${what(health, bounds).join('; ')}. The step was not applied: the adapter is as it ` +
        `was before step ${step}. To continue, ${advice.join(' and ')}.`,
    );
  }
}
