// Which micro-batches make optimizer step k: a pure function of (examples, settings, k), so a run
// resumed from a checkpoint at step k sees exactly the data an uninterrupted run would have.
// Epoch e shuffles with seed + e; a step takes gradAccum consecutive batches of its epoch (the
// last step of an epoch may take fewer).
import { makeBatches, type TokenSequence } from '../../data/sequences';
import type { Batch } from './types';

export interface PlanOptions {
  batchSize: number;
  gradAccum: number;
  padId: number;
  seed: number;
  /** Total optimizer steps: maxSteps, or epochs × steps per epoch. */
  maxSteps?: number;
  epochs?: number;
}

export class TrainingPlan {
  private cache = new Map<number, Batch[]>();
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  /** Longest padded row of any batch: the trainer's maxSeq. */
  readonly maxSeq: number;

  constructor(
    private readonly examples: readonly TokenSequence[],
    private readonly opts: PlanOptions,
  ) {
    if (examples.length === 0) throw new Error('the training set is empty');
    const ga = Math.max(1, opts.gradAccum);
    this.batchesPerEpoch = Math.ceil(examples.length / opts.batchSize);
    this.stepsPerEpoch = Math.ceil(this.batchesPerEpoch / ga);
    this.totalSteps = opts.maxSteps ?? Math.max(1, Math.round((opts.epochs ?? 1) * this.stepsPerEpoch));
    this.maxSeq = examples.reduce((m, e) => Math.max(m, e.inputIds.length), 1);
  }

  private epochBatches(epoch: number): Batch[] {
    let b = this.cache.get(epoch);
    if (!b) {
      b = makeBatches(this.examples, { batchSize: this.opts.batchSize, padId: this.opts.padId, shuffleSeed: this.opts.seed + epoch });
      this.cache.clear();
      this.cache.set(epoch, b);
    }
    return b;
  }

  /** The micro-batches of optimizer step `step` (0-based). */
  microBatches(step: number): { epoch: number; micro: Batch[] } {
    const ga = Math.max(1, this.opts.gradAccum);
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const i = step % this.stepsPerEpoch;
    return { epoch, micro: this.epochBatches(epoch).slice(i * ga, (i + 1) * ga) };
  }
}
