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
//
// Packing (opts.packing): an epoch's examples, in its shuffled order, are packed into rows of
// T = maxLength tokens (packRows, best-fit decreasing; packBatch: positions restart per example,
// no target across a boundary). The rows are shuffled by the epoch's seed, then grouped into
// batches of batchSize rows by fill (a stable sort on the bucketed fill: the few part-filled rows
// best-fit leaves go together instead of padding a batch of full rows), and the batches are
// shuffled (a short batch stays last). A packed batch's T is its fullest row bucketed (as a padded batch's is its longest
// row), so an epoch's part-filled tail batch stays cheap. Every epoch has the same number of rows
// (packRows depends only on the lengths), so steps per epoch are fixed and step k is still a pure
// function of k.
import { packBatch, packRows, padBatch, shuffled, type TokenSequence } from '../../data/sequences';
import type { Batch } from './types';

/**
 * A preference pair as the plan batches it (DPO, IPO, ORPO): one item of the epoch's order whose
 * two sequences go into the same micro-batch, the chosen rows first (padPairBatch, Batch.pairs).
 */
export interface PairSequence {
  chosen: TokenSequence;
  rejected: TokenSequence;
}
export type PlanItem = TokenSequence | PairSequence;
const isPair = (e: PlanItem): e is PairSequence => 'chosen' in e;
const itemLength = (e: PlanItem): number => (isPair(e) ? Math.max(e.chosen.inputIds.length, e.rejected.inputIds.length) : e.inputIds.length);

/**
 * What a plan draws its rows from: an array of items, or a view over the prepared examples'
 * columns (src/data/example-table.ts) that makes an item only when a batch takes it, so a run over
 * a large dataset holds no object per example.
 */
export interface PlanItems {
  readonly length: number;
  /** Item i (may be made on each call). */
  item(i: number): PlanItem;
  /** itemLength(item(i)), without making the item. */
  lengthOf(i: number): number;
}

/** `items` as PlanItems (an array is wrapped; PlanItems pass through). */
export function planItems(items: readonly PlanItem[] | PlanItems): PlanItems {
  if (!isItemArray(items)) return items;
  return { length: items.length, item: (i) => items[i], lengthOf: (i) => itemLength(items[i]) };
}
const isItemArray = (x: readonly PlanItem[] | PlanItems): x is readonly PlanItem[] => Array.isArray(x);

/** The prepared examples' table (ExampleTable's shape) as PlanItems: each item its views into the table. */
export function tableItems(table: { readonly length: number; example(i: number): TokenSequence; tokenCount(i: number): number }): PlanItems {
  return { length: table.length, item: (i) => table.example(i), lengthOf: (i) => table.tokenCount(i) };
}

/** Items `indices` of `items`, in that order. */
export function itemSubset(items: PlanItems, indices: readonly number[]): PlanItems {
  const at = Uint32Array.from(indices);
  return { length: at.length, item: (k) => items.item(at[k]), lengthOf: (k) => items.lengthOf(at[k]) };
}

/** The items as an array (tests, and the few rows a caller lists). */
export function itemArray(items: PlanItems): PlanItem[] {
  return Array.from({ length: items.length }, (_, i) => items.item(i));
}

/** P pairs as a preference batch of 2P rows of T: the chosen sequences, then the rejected ones in the same order. */
export function padPairBatch(pairs: readonly PairSequence[], T: number, padId: number): Batch {
  return { ...padBatch([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], T, padId), pairs: pairs.length };
}

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
  /** Several examples per row (rows of maxLength tokens, or of the longest example without it). */
  packing?: boolean;
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

/**
 * The row budget of packed rows, the trainer's maxSeq: maxLength (the user's choice; packing fills
 * it), or the longest example when there is no maxLength; at least MIN_SEQ. A batch of part-filled
 * rows runs at its fullest row's bucketed length.
 */
export function packedLength(longest: number, maxLength?: number): number {
  if (maxLength !== undefined && Number.isFinite(maxLength)) return Math.max(MIN_SEQ, maxLength);
  return maxSeqFor(longest);
}

/** The same seed and epoch give the same order; different seeds do not share epochs' orders. */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed, 1_000_003) + Math.imul(epoch, 7919)) >>> 0;
}

/** The order of an epoch's packed rows: seeded apart from the examples' order of the same epoch. */
function rowSeed(seed: number, epoch: number): number {
  return (epochSeed(seed, epoch) ^ 0x5bd1e995) >>> 0;
}

export class TrainingPlan {
  /** The last epoch's order (a step needs one epoch; a run moves forward through them). */
  private cached: { epoch: number; order: number[] } | null = null;
  /** The last epoch's packed rows (example indices), with packing. */
  private cachedRows: { epoch: number; rows: number[][] } | null = null;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly bucket: number;
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  /** Longest padded row of any training batch: the trainer's maxSeq (with the validation batches'). */
  readonly maxSeq: number;
  readonly packing: boolean;
  /** Rows of an epoch: its examples, or with packing its packed rows (the same for every epoch). */
  readonly rowsPerEpoch: number;

  private readonly examples: PlanItems;

  constructor(
    items: readonly PlanItem[] | PlanItems,
    private readonly opts: PlanOptions,
  ) {
    const examples = planItems(items);
    this.examples = examples;
    if (examples.length === 0) throw new Error('the training set is empty');
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    this.batchSize = opts.batchSize;
    this.gradAccum = Math.max(1, Math.floor(opts.gradAccum));
    this.bucket = Math.max(1, Math.floor(opts.bucket ?? SEQ_BUCKET));
    this.packing = opts.packing === true;
    if (this.packing && isPair(examples.item(0))) throw new Error('preference pairs are not packed (one sequence per row)');
    this.maxSeq = this.packing ? packedLength(this.longestOf(examples), opts.maxLength) : this.capOf(examples);
    this.rowsPerEpoch = this.packing ? this.packedRows(0).length : examples.length;
    this.batchesPerEpoch = Math.ceil(this.rowsPerEpoch / this.batchSize);
    this.stepsPerEpoch = Math.ceil(this.batchesPerEpoch / this.gradAccum);
    this.totalSteps = opts.maxSteps ?? Math.max(1, Math.round((opts.epochs ?? 1) * this.stepsPerEpoch));
  }

  /** A sequence of n tokens as a row takes it (cut at maxLength). */
  private capped(n: number): number {
    return Math.min(n, this.opts.maxLength ?? Number.POSITIVE_INFINITY);
  }

  private rowLength(i: number): number {
    return this.capped(this.examples.lengthOf(i));
  }

  private longestOf(rows: PlanItems): number {
    let longest = 0;
    for (let i = 0; i < rows.length; i++) longest = Math.max(longest, rows.lengthOf(i));
    return longest;
  }

  private capOf(rows: PlanItems): number {
    return maxSeqFor(this.longestOf(rows), this.opts.maxLength);
  }

  /** One batch of `rows`: T bucketed and capped at `cap`, longer rows cut. */
  private batch(rows: readonly PlanItem[], cap: number): Batch {
    let longest = 0;
    for (const r of rows) longest = Math.max(longest, this.capped(itemLength(r)));
    const T = paddedLength(longest, cap, this.bucket);
    if (rows.length && isPair(rows[0])) return padPairBatch(rows as PairSequence[], T, this.opts.padId);
    return padBatch(rows as TokenSequence[], T, this.opts.padId);
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

  /** Epoch `epoch`'s packed rows in their order, each a list of example indices (with packing). */
  packedRows(epoch: number): number[][] {
    if (this.cachedRows?.epoch !== epoch) {
      const order = this.epochOrder(epoch);
      const rows = packRows(
        order.map((i) => this.rowLength(i)),
        this.maxSeq,
      ).map((row) => row.map((k) => order[k]));
      this.cachedRows = { epoch, rows: this.batchOrder(shuffled(rows, rowSeed(this.opts.seed, epoch)), epoch) };
    }
    return this.cachedRows.rows;
  }

  /** Tokens of a packed row (examples cut at maxSeq as packBatch cuts them). */
  private rowFill(row: readonly number[]): number {
    let n = 0;
    for (const i of row) n += this.rowLength(i);
    return Math.min(n, this.maxSeq);
  }

  /** Shuffled rows → batches of rows of like fill (stable), in a seeded batch order, flattened. */
  private batchOrder(rows: number[][], epoch: number): number[][] {
    const bucketOf = (row: readonly number[]) => paddedLength(this.rowFill(row), this.maxSeq, this.bucket);
    const byFill = rows.map((row, k) => ({ row, k, fill: bucketOf(row) })).sort((a, b) => b.fill - a.fill || a.k - b.k);
    const batches: number[][][] = [];
    for (let j = 0; j < byFill.length; j += this.batchSize) batches.push(byFill.slice(j, j + this.batchSize).map((r) => r.row));
    // Only whole batches move: the one short batch (rows % batchSize) stays last, so slicing the
    // flat list by batchSize gives back these batches.
    const short = batches.length && batches[batches.length - 1].length < this.batchSize ? batches.pop()! : null;
    const order = shuffled(batches, rowSeed(this.opts.seed ^ 0x2545f491, epoch));
    if (short) order.push(short);
    return order.flat();
  }

  /** The micro-batches of optimizer step `step` (0-based), and its epoch (0-based). */
  microBatches(step: number): { epoch: number; micro: Batch[] } {
    if (!(Number.isInteger(step) && step >= 0)) throw new Error(`step must be a non-negative integer, got ${step}`);
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const first = (step % this.stepsPerEpoch) * this.gradAccum;
    const last = Math.min(first + this.gradAccum, this.batchesPerEpoch);
    const micro: Batch[] = [];
    if (this.packing) {
      const packed = this.packedRows(epoch);
      for (let j = first; j < last; j++) {
        const slice = packed.slice(j * this.batchSize, (j + 1) * this.batchSize);
        let fullest = 0;
        for (const row of slice) fullest = Math.max(fullest, this.rowFill(row));
        const rows = slice.map((row) => row.map((i) => this.examples.item(i) as TokenSequence));
        micro.push(packBatch(rows, paddedLength(fullest, this.maxSeq, this.bucket), this.opts.padId));
      }
      return { epoch, micro };
    }
    const order = this.epochOrder(epoch);
    for (let j = first; j < last; j++) {
      const rows = order.slice(j * this.batchSize, (j + 1) * this.batchSize).map((i) => this.examples.item(i));
      micro.push(this.batch(rows, this.maxSeq));
    }
    return { epoch, micro };
  }

  /**
   * `examples` in their order as batches of batchSize rows with the training batches' truncation
   * and padding (for validation; never packed, so a validation loss means the same with packing
   * on or off). Their T is at most maxSeqFor(their longest row, maxLength).
   */
  batchesOf(items: readonly PlanItem[] | PlanItems): Batch[] {
    const examples = planItems(items);
    const cap = this.capOf(examples);
    const out: Batch[] = [];
    for (let s = 0; s < examples.length; s += this.batchSize) {
      const rows: PlanItem[] = [];
      for (let i = s; i < Math.min(s + this.batchSize, examples.length); i++) rows.push(examples.item(i));
      out.push(this.batch(rows, cap));
    }
    return out;
  }
}
