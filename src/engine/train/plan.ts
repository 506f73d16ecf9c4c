// The batcher of every training run, in the worker and in the CLI: which micro-batches make
// optimizer step k, as a pure function of (examples, options, k). A run resumed from a checkpoint
// at step k therefore sees exactly the data an uninterrupted run would have: the checkpoint needs
// only the step.
//
// Epoch e visits every example once, in an order shuffled by (seed, e). Its examples are cut into
// batchesPerEpoch batches of batchSize rows (the last may have fewer), and each optimizer step takes
// gradAccum consecutive batches of its epoch (the last step of an epoch may take fewer).
//
// Shapes: a batch is right-padded to T = its longest row rounded up to a multiple of `bucket`,
// capped at maxSeq = min(maxLength, the longest row of the data), at least MIN_SEQ. The trainer
// records GPU programs per distinct B×T and sizes its buffers for batchSize×maxSeq, so bucketing
// keeps the number of recorded programs small (about maxSeq / bucket) while short batches stay cheap.
import { padBatch, shuffled, type TokenSequence } from '../../data/sequences';
import type { Batch } from './types';

/** T of every batch is a multiple of this (unless capped at maxSeq). */
export const SEQ_BUCKET = 32;
/** The shortest T the engine trains on: a row needs two positions for one shifted target. */
export const MIN_SEQ = 2;

export interface PlanOptions {
  /** Rows per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (values below 1 mean 1). */
  gradAccum: number;
  /** Id written in padding positions (never attended, label -100). */
  padId: number;
  seed: number;
  /** Total optimizer steps: maxSteps, or epochs × steps per epoch (default 1 epoch). */
  maxSteps?: number;
  epochs?: number;
  /**
   * Rows longer than this are cut to their first maxLength tokens. Examples are normally truncated
   * before (truncateExample, which also unmasks a cut turn); this only bounds the shapes.
   */
  maxLength?: number;
  /** Round each batch's T up to a multiple of this (default SEQ_BUCKET). */
  bucket?: number;
}

/**
 * The longest padded row of a run whose longest example has `longest` tokens: what the engine
 * allocates for. The UI's memory estimate uses it too.
 */
export function maxSeqFor(longest: number, maxLength = Number.POSITIVE_INFINITY): number {
  return Math.max(MIN_SEQ, Math.min(maxLength, longest));
}

/** T of a batch whose longest row has `n` tokens: n rounded up to a multiple of `bucket`, at most `cap`, at least MIN_SEQ. */
export function paddedLength(n: number, cap: number, bucket = SEQ_BUCKET): number {
  return Math.max(MIN_SEQ, Math.min(cap, Math.ceil(n / bucket) * bucket));
}

/** The same seed and epoch give the same order; different seeds do not share epochs' orders. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed, 1_000_003) + Math.imul(epoch, 7919)) >>> 0;
}

export class TrainingPlan {
  /** The last epoch's order (a step needs one epoch; a run moves forward through them). */
  private cached: { epoch: number; order: number[] } | null = null;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly bucket: number;
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  /** Longest padded row of any training batch: the trainer's maxSeq (with the validation batches'). */
  readonly maxSeq: number;

  constructor(
    private readonly examples: readonly TokenSequence[],
    private readonly opts: PlanOptions,
  ) {
    if (examples.length === 0) throw new Error('the training set is empty');
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    this.batchSize = opts.batchSize;
    this.gradAccum = Math.max(1, Math.floor(opts.gradAccum));
    this.bucket = Math.max(1, Math.floor(opts.bucket ?? SEQ_BUCKET));
    this.batchesPerEpoch = Math.ceil(examples.length / this.batchSize);
    this.stepsPerEpoch = Math.ceil(this.batchesPerEpoch / this.gradAccum);
    this.totalSteps = opts.maxSteps ?? Math.max(1, Math.round((opts.epochs ?? 1) * this.stepsPerEpoch));
    this.maxSeq = this.capOf(examples);
  }

  private rowLength(e: TokenSequence): number {
    return Math.min(e.inputIds.length, this.opts.maxLength ?? Number.POSITIVE_INFINITY);
  }

  private capOf(rows: readonly TokenSequence[]): number {
    let longest = 0;
    for (const e of rows) longest = Math.max(longest, e.inputIds.length);
    return maxSeqFor(longest, this.opts.maxLength);
  }

  /** One batch of `rows`: T bucketed and capped at `cap`, longer rows cut. */
  private batch(rows: readonly TokenSequence[], cap: number): Batch {
    let longest = 0;
    for (const r of rows) longest = Math.max(longest, this.rowLength(r));
    return padBatch(rows, paddedLength(longest, cap, this.bucket), this.opts.padId);
  }

  /** Example indices in epoch `epoch`'s order. */
  epochOrder(epoch: number): number[] {
    if (this.cached?.epoch !== epoch) {
      const order = shuffled(
        Array.from({ length: this.examples.length }, (_, i) => i),
        epochSeed(this.opts.seed, epoch),
      );
      this.cached = { epoch, order };
    }
    return this.cached.order;
  }

  /** The micro-batches of optimizer step `step` (0-based), and its epoch (0-based). */
  microBatches(step: number): { epoch: number; micro: Batch[] } {
    if (!(Number.isInteger(step) && step >= 0)) throw new Error(`step must be a non-negative integer, got ${step}`);
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const first = (step % this.stepsPerEpoch) * this.gradAccum;
    const last = Math.min(first + this.gradAccum, this.batchesPerEpoch);
    const order = this.epochOrder(epoch);
    const micro: Batch[] = [];
    for (let j = first; j < last; j++) {
      const rows = order.slice(j * this.batchSize, (j + 1) * this.batchSize).map((i) => this.examples[i]);
      micro.push(this.batch(rows, this.maxSeq));
    }
    return { epoch, micro };
  }

  /**
   * `examples` in their order as batches of batchSize rows with the training batches' truncation
   * and padding (for validation). Their T is at most maxSeqFor(their longest row, maxLength).
   */
  batchesOf(examples: readonly TokenSequence[]): Batch[] {
    const cap = this.capOf(examples);
    const out: Batch[] = [];
    for (let s = 0; s < examples.length; s += this.batchSize) out.push(this.batch(examples.slice(s, s + this.batchSize), cap));
    return out;
  }
}
