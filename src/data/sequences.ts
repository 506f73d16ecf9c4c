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
