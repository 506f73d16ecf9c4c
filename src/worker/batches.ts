// Examples → fixed-shape training batches (B rows of T tokens, right-padded), in a seeded
// shuffled order that restarts each epoch. The shape never changes during a run, so the trainer
// records its GPU programs once. `pos` is what a checkpoint stores to resume the data order.
import { shuffled, type TokenSequence } from '../data';
import type { Batch } from '../engine/train/types';

export interface DataPosition {
  epoch: number;
  /** Index into the epoch's order of the next example. */
  index: number;
}

export class BatchStream {
  readonly T: number;
  private order: number[];
  pos: DataPosition = { epoch: 0, index: 0 };

  constructor(
    private readonly examples: readonly TokenSequence[],
    readonly B: number,
    maxLength: number,
    private readonly seed: number,
    private readonly padId: number,
  ) {
    if (examples.length === 0) throw new Error('no examples to batch');
    this.T = Math.max(2, Math.min(maxLength, examples.reduce((m, e) => Math.max(m, e.inputIds.length), 0)));
    this.order = this.epochOrder(0);
  }

  seek(pos: DataPosition): void {
    this.pos = { ...pos };
    this.order = this.epochOrder(pos.epoch);
  }

  next(): Batch {
    const { B, T } = this;
    const inputIds = new Int32Array(B * T).fill(this.padId);
    const attentionMask = new Int32Array(B * T);
    const labels = new Int32Array(B * T).fill(-100);
    for (let b = 0; b < B; b++) {
      if (this.pos.index >= this.order.length) this.seek({ epoch: this.pos.epoch + 1, index: 0 });
      const ex = this.examples[this.order[this.pos.index++]];
      const n = Math.min(T, ex.inputIds.length);
      for (let t = 0; t < n; t++) {
        inputIds[b * T + t] = ex.inputIds[t];
        attentionMask[b * T + t] = 1;
        if (ex.trainMask[t]) labels[b * T + t] = ex.inputIds[t];
      }
    }
    return { B, T, inputIds, attentionMask, labels };
  }

  /** The same seed and epoch give the same order. */
  private epochOrder(epoch: number): number[] {
    return shuffled(
      Array.from({ length: this.examples.length }, (_, i) => i),
      (Math.imul(this.seed, 1_000_003) + Math.imul(epoch, 7919)) >>> 0,
    );
  }
}

/** Tokens the loss counts in a batch (labels[t+1] != -100 within a row). */
export function countedTokens(batch: Batch): number {
  let n = 0;
  for (let b = 0; b < batch.B; b++) {
    for (let t = 1; t < batch.T; t++) if (batch.labels[b * batch.T + t] !== -100) n++;
  }
  return n;
}
