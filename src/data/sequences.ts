// Sequences for training: deterministic shuffling, validation split, packing, and batches.
import type { Batch } from '../engine/train/types';
import { mulberry32 } from '../util/prng';

/** A tokenized sequence: ids and the 0/1 trained-token mask (labels are derived from it). */
export interface TokenSequence {
  inputIds: ArrayLike<number>;
  trainMask: ArrayLike<number>;
}

/** The project's seeded PRNG (src/util/prng.ts), uniform in [0, 1). */
export const seededRandom = mulberry32;

/** A shuffled copy (Fisher-Yates driven by mulberry32(seed)); deterministic for a seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const rnd = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * Holds out round(fraction * n) items (at least 1 when fraction > 0 and n >= 2) chosen by a seeded
 * shuffle; both parts keep the input order. A second file as validation set: prepare it separately.
 */
export function splitValidation<T>(items: readonly T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${fraction}`);
  const n = items.length;
  let k = Math.round(fraction * n);
  if (fraction > 0 && n >= 2) k = Math.max(1, k);
  k = Math.min(k, n - 1 < 0 ? 0 : n - 1);
  if (k <= 0) return { train: items.slice(), validation: [] };
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    seed,
  );
  const held = new Uint8Array(n);
  for (let i = 0; i < k; i++) held[order[i]] = 1;
  const train: T[] = [];
  const validation: T[] = [];
  items.forEach((it, i) => (held[i] ? validation : train).push(it));
  return { train, validation };
}

export interface PackedSequence {
  inputIds: Int32Array;
  trainMask: Uint8Array;
  /** Index (in the input list) of each example packed here, in order. */
  members: number[];
}

/**
 * Packs examples, in order, into sequences of at most `maxLength` tokens: each sequence takes the
 * next examples while they fit (an example is never split; longer ones must be truncated first).
 * Packed examples attend to each other (the Batch has no per-example positions): the usual cheap
 * packing. Shuffle before packing to mix lengths.
 */
export function packExamples(examples: readonly TokenSequence[], maxLength: number): PackedSequence[] {
  const out: PackedSequence[] = [];
  let members: number[] = [];
  let len = 0;
  const flush = () => {
    if (!members.length) return;
    const inputIds = new Int32Array(len);
    const trainMask = new Uint8Array(len);
    let o = 0;
    for (const m of members) {
      const e = examples[m];
      inputIds.set(e.inputIds, o);
      trainMask.set(e.trainMask, o);
      o += e.inputIds.length;
    }
    out.push({ inputIds, trainMask, members });
    members = [];
    len = 0;
  };
  examples.forEach((e, i) => {
    const n = e.inputIds.length;
    if (n > maxLength) throw new Error(`example ${i} has ${n} tokens, more than the packing length ${maxLength}`);
    if (len + n > maxLength) flush();
    members.push(i);
    len += n;
  });
  flush();
  return out;
}

export interface BatchOptions {
  batchSize: number;
  /** Id written in padding positions (never attended, label -100). */
  padId: number;
  /** Shuffle the examples with this seed first (see `shuffled`); default: keep the order. */
  shuffleSeed?: number;
  /** Drop a last batch smaller than batchSize (default false: it is kept with B < batchSize). */
  dropLast?: boolean;
  /** Pad T up to a multiple of this (default 1: T = the longest row of the batch), at most maxLength. */
  padToMultipleOf?: number;
  /** Cut rows to their first maxLength tokens and never pad T beyond it (default: no limit). */
  maxLength?: number;
}

/**
 * One right-padded batch of `rows` with T columns in the trainer's Batch form: padding has
 * attention 0 and label -100; labels = the token where trained, -100 where masked (unshifted).
 * Rows longer than T are cut to their first T tokens.
 */
export function padBatch(rows: readonly TokenSequence[], T: number, padId: number): Batch {
  if (!(Number.isInteger(T) && T >= 1)) throw new Error(`T must be a positive integer, got ${T}`);
  const B = rows.length;
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  rows.forEach((r, b) => {
    const o = b * T;
    const n = Math.min(T, r.inputIds.length);
    for (let t = 0; t < n; t++) {
      const id = r.inputIds[t];
      inputIds[o + t] = id;
      attentionMask[o + t] = 1;
      labels[o + t] = r.trainMask[t] ? id : -100;
    }
  });
  return { B, T, inputIds, attentionMask, labels };
}

/**
 * Right-padded batches (see padBatch): T = the longest row of the batch (rounded up to
 * padToMultipleOf, capped at maxLength). Training uses TrainingPlan (src/engine/train/plan.ts),
 * which adds epochs, gradient accumulation and bucketed shapes on top of padBatch.
 */
export function makeBatches(examples: readonly TokenSequence[], opts: BatchOptions): Batch[] {
  const { batchSize, padId } = opts;
  if (!(batchSize >= 1)) throw new Error(`batchSize must be >= 1, got ${batchSize}`);
  const list = opts.shuffleSeed === undefined ? examples.slice() : shuffled(examples, opts.shuffleSeed);
  const mult = Math.max(1, opts.padToMultipleOf ?? 1);
  const cap = opts.maxLength ?? Number.POSITIVE_INFINITY;
  if (!(cap >= 1)) throw new Error(`maxLength must be >= 1, got ${opts.maxLength}`);
  const batches: Batch[] = [];
  for (let s = 0; s < list.length; s += batchSize) {
    const rows = list.slice(s, s + batchSize);
    if (rows.length < batchSize && opts.dropLast) break;
    let T = 0;
    for (const r of rows) T = Math.max(T, Math.min(cap, r.inputIds.length));
    T = Math.max(1, Math.min(cap, Math.ceil(T / mult) * mult));
    batches.push(padBatch(rows, T, padId));
  }
  return batches;
}
