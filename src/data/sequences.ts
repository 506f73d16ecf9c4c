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

/**
 * Packs examples of the given lengths into rows of T tokens, best-fit decreasing: examples in
 * order of decreasing length (ties: input order), each into the open row with the least room that
 * still holds it, else a new row. Returns each row's indices into `lengths`, in placement order;
 * every row's lengths (each capped at T) sum to at most T. Written here rather than taken from a
 * library: none of the kept ones packs, and the loop below is what TRL's "bfd" packing does.
 *
 * Every decision depends only on the sorted sequence of lengths, so two orders of the same
 * examples (two epochs' shuffles) give rows of the same lengths, in the same number: steps per
 * epoch stay fixed while the examples sharing a row change among those of equal length.
 */
export function packRows(lengths: ArrayLike<number>, T: number): number[][] {
  if (!(Number.isInteger(T) && T >= 1)) throw new Error(`T must be a positive integer, got ${T}`);
  const n = lengths.length;
  // An empty example (none reach here from the pipeline) is given one token of room.
  const len = (i: number): number => Math.max(1, Math.min(T, lengths[i]));
  const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => len(b) - len(a) || a - b);
  const rows: number[][] = [];
  const room: number[] = [];
  // Open rows by room left (a stack per room, 1..T-1; full rows are closed), and a bit per room
  // that has any, so the least room >= L is found a 32-room word at a time.
  const byRoom: number[][] = Array.from({ length: T + 1 }, () => []);
  const has = new Uint32Array((T >> 5) + 1);
  const mark = (r: number, on: boolean): void => {
    if (on) has[r >> 5] |= 1 << (r & 31);
    else has[r >> 5] &= ~(1 << (r & 31));
  };
  const leastRoomAtLeast = (L: number): number => {
    for (let w = L >> 5; w < has.length; w++) {
      let bits = has[w];
      if (w === L >> 5) bits &= ~((1 << (L & 31)) - 1); // rooms below L in L's word
      if (bits !== 0) return (w << 5) + (31 - Math.clz32(bits & -bits));
    }
    return -1;
  };
  for (const i of sorted) {
    const L = len(i);
    const r = leastRoomAtLeast(L);
    let row: number;
    if (r < 0) {
      row = rows.length;
      rows.push([]);
      room.push(T);
    } else {
      row = byRoom[r].pop()!;
      if (byRoom[r].length === 0) mark(r, false);
    }
    rows[row].push(i);
    room[row] -= L;
    const left = room[row];
    if (left > 0) {
      byRoom[left].push(row);
      mark(left, true);
    }
  }
  return rows;
}

/**
 * One packed batch: row b holds the examples rows[b] end to end (each cut to the room left), then
 * padding. Each example's positions restart at 0 and its first token's label is -100, so no
 * target crosses from one example into the next; the tail padding has attention 0, label -100
 * and positions 0, 1, ... as a segment of its own (see Batch.positions).
 */
export function packBatch(rows: readonly (readonly TokenSequence[])[], T: number, padId: number): Batch {
  if (!(Number.isInteger(T) && T >= 1)) throw new Error(`T must be a positive integer, got ${T}`);
  const B = rows.length;
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  const positions = new Int32Array(B * T);
  rows.forEach((row, b) => {
    let p = b * T;
    const end = p + T;
    for (const ex of row) {
      const n = Math.min(ex.inputIds.length, end - p);
      for (let t = 0; t < n; t++) {
        const id = ex.inputIds[t];
        inputIds[p + t] = id;
        attentionMask[p + t] = 1;
        labels[p + t] = t > 0 && ex.trainMask[t] ? id : -100;
        positions[p + t] = t;
      }
      p += n;
    }
    for (let t = 0; p + t < end; t++) positions[p + t] = t;
  });
  return { B, T, inputIds, attentionMask, labels, positions };
}
