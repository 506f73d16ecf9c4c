import { describe, expect, it } from 'vitest';
import type { TokenSequence } from '../../data/sequences';
import { ExampleTable } from '../../data/example-table';
import { splitValidation } from '../../data/sequences';
import { holdOut } from './loop';
import { itemArray, itemSubset, maxSeqFor, MIN_SEQ, paddedLength, SEQ_BUCKET, tableItems, TrainingPlan, type PlanOptions } from './plan';
import { countedTokens } from './types';
import type { Batch } from './types';

const ex = (ids: number[], mask: number[]): TokenSequence => ({ inputIds: Int32Array.from(ids), trainMask: Uint8Array.from(mask) });

/** Example i: `len` tokens, the first is 1000 + i (so a row names its example), the rest trained. */
const numbered = (n: number, len: (i: number) => number): TokenSequence[] =>
  Array.from({ length: n }, (_, i) => {
    const L = len(i);
    return ex([1000 + i, ...Array.from({ length: L - 1 }, (_, t) => 1 + ((i + t) % 50))], [0, ...Array(L - 1).fill(1)]);
  });

/** Example index of each row of each micro-batch. */
const rowsOf = (micro: Batch[]): number[][] => micro.map((b) => Array.from({ length: b.B }, (_, r) => b.inputIds[r * b.T] - 1000));

const base: PlanOptions = { batchSize: 4, gradAccum: 1, padId: 0, seed: 7 };

describe('TrainingPlan', () => {
  it('right-pads rows, masks padding and untrained tokens, labels unshifted (padBatch)', () => {
    const examples = [ex([5, 6, 7], [0, 1, 1]), ex([8, 9], [1, 0])];
    const plan = new TrainingPlan(examples, { ...base, batchSize: 2 });
    const [b] = plan.microBatches(0).micro;
    expect([b.B, b.T]).toEqual([2, 3]);
    const first = b.inputIds[0] === 5 ? 0 : 1;
    const row = (a: Int32Array, r: number) => Array.from(a.subarray(r * 3, r * 3 + 3));
    expect(row(b.inputIds, first)).toEqual([5, 6, 7]);
    expect(row(b.attentionMask, first)).toEqual([1, 1, 1]);
    expect(row(b.labels, first)).toEqual([-100, 6, 7]);
    expect(row(b.inputIds, 1 - first)).toEqual([8, 9, 0]);
    expect(row(b.attentionMask, 1 - first)).toEqual([1, 1, 0]);
    expect(row(b.labels, 1 - first)).toEqual([8, -100, -100]);
    // Trained targets are labels[t+1] != -100: 6 and 7 (8 is at t = 0 and never a target).
    expect(countedTokens(b)).toBe(2);
  });

  it('is deterministic per seed and visits every example once per epoch, reshuffled each epoch', () => {
    const examples = numbered(22, () => 5);
    const order = (seed: number, epoch: number) => {
      const plan = new TrainingPlan(examples, { ...base, seed });
      return Array.from({ length: plan.stepsPerEpoch }, (_, k) => rowsOf(plan.microBatches(epoch * plan.stepsPerEpoch + k).micro).flat()).flat();
    };
    const all = Array.from({ length: 22 }, (_, i) => i);
    expect(order(7, 0)).toEqual(order(7, 0));
    expect(order(7, 0)).not.toEqual(order(8, 0));
    expect(order(7, 0)).not.toEqual(all);
    for (const epoch of [0, 1, 2]) expect([...order(7, epoch)].sort((a, b) => a - b)).toEqual(all);
    expect(order(7, 1)).not.toEqual(order(7, 0));
    expect(order(7, 2)).not.toEqual(order(7, 1));
    // Seeds do not share epochs (seed + epoch would make seed 8's epoch 0 seed 7's epoch 1).
    expect(order(8, 0)).not.toEqual(order(7, 1));
  });

  it('resumed at step k, gives exactly the batches of the uninterrupted run', () => {
    const examples = numbered(37, (i) => 3 + ((i * 13) % 70));
    const opts: PlanOptions = { ...base, batchSize: 3, gradAccum: 2, maxLength: 64 };
    const full = new TrainingPlan(examples, opts);
    const steps = 3 * full.stepsPerEpoch + 2;
    const reference = Array.from({ length: steps }, (_, k) => full.microBatches(k));
    for (const k of [1, 5, full.stepsPerEpoch, full.stepsPerEpoch + 1, steps - 1]) {
      const resumed = new TrainingPlan(examples, opts);
      for (let s = k; s < steps; s++) expect(resumed.microBatches(s), `step ${s} resumed at ${k}`).toEqual(reference[s]);
    }
    // Asking out of order (a cache miss) changes nothing.
    expect(full.microBatches(2)).toEqual(reference[2]);
    expect(full.microBatches(steps - 1)).toEqual(reference[steps - 1]);
  });

  it('rounds each batch T up to a bucket, capped at maxSeq = min(maxLength, longest), at least 2', () => {
    const examples = numbered(40, (i) => 2 + ((i * 7) % 90));
    const plan = new TrainingPlan(examples, { ...base, batchSize: 2, maxLength: 80 });
    expect(plan.maxSeq).toBe(80);
    const shapes = new Set<number>();
    for (let k = 0; k < plan.stepsPerEpoch * 2; k++) {
      for (const b of plan.microBatches(k).micro) {
        shapes.add(b.T);
        expect(b.T % SEQ_BUCKET === 0 || b.T === plan.maxSeq, `T = ${b.T}`).toBe(true);
        expect(b.T).toBeLessThanOrEqual(plan.maxSeq);
        let longest = 0;
        for (let r = 0; r < b.B; r++) longest = Math.max(longest, b.attentionMask.subarray(r * b.T, (r + 1) * b.T).reduce((a, m) => a + m, 0));
        expect(b.T - longest).toBeLessThan(SEQ_BUCKET);
      }
    }
    expect([...shapes].sort((a, b) => a - b)).toEqual([32, 64, 80]);
    // The cap is the data's longest row when that is shorter than maxLength.
    const short = new TrainingPlan(numbered(5, (i) => 3 + i), { ...base, maxLength: 512 });
    expect(short.maxSeq).toBe(7);
    expect(short.microBatches(0).micro[0].T).toBe(7);
    // A one-token example still gets T = 2.
    const tiny = new TrainingPlan([ex([3], [1])], { ...base, maxLength: 512 });
    expect(tiny.maxSeq).toBe(MIN_SEQ);
    expect(tiny.microBatches(0).micro[0].T).toBe(MIN_SEQ);
    expect(paddedLength(33, 512)).toBe(64);
    expect(paddedLength(1, 512)).toBe(32);
    expect(paddedLength(1, 1)).toBe(MIN_SEQ);
    expect(paddedLength(100, 80)).toBe(80);
    expect(maxSeqFor(40, 512)).toBe(40);
    expect(maxSeqFor(600, 512)).toBe(512);
  });

  it('truncates rows longer than maxLength to their first maxLength tokens', () => {
    const long = ex(
      Array.from({ length: 50 }, (_, t) => t + 1),
      Array.from({ length: 50 }, () => 1),
    );
    const plan = new TrainingPlan([long, ex([7, 8], [0, 1])], { ...base, maxLength: 10 });
    expect(plan.maxSeq).toBe(10);
    const [b] = plan.microBatches(0).micro;
    expect(b.T).toBe(10);
    const r = b.inputIds[0] === 1 ? 0 : 1;
    expect(Array.from(b.inputIds.subarray(r * 10, r * 10 + 10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from(b.labels.subarray(r * 10, r * 10 + 10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.attentionMask.subarray(r * 10, r * 10 + 10).every((m) => m === 1)).toBe(true);
  });

  it('groups gradAccum consecutive batches of the epoch per step; the last step of an epoch takes fewer', () => {
    // 10 examples, batches of 3: 4 batches (3, 3, 3, 1) per epoch; gradAccum 3: steps of 3 and 1.
    const examples = numbered(10, () => 4);
    const plan = new TrainingPlan(examples, { ...base, batchSize: 3, gradAccum: 3, epochs: 2 });
    expect([plan.batchesPerEpoch, plan.stepsPerEpoch, plan.totalSteps]).toEqual([4, 2, 4]);
    const s0 = plan.microBatches(0);
    const s1 = plan.microBatches(1);
    const s2 = plan.microBatches(2);
    expect([s0.epoch, s1.epoch, s2.epoch]).toEqual([0, 0, 1]);
    expect(s0.micro.map((b) => b.B)).toEqual([3, 3, 3]);
    expect(s1.micro.map((b) => b.B)).toEqual([1]);
    expect([...rowsOf(s0.micro).flat(), ...rowsOf(s1.micro).flat()]).toEqual(plan.epochOrder(0));
    expect(rowsOf(s2.micro).flat()).toEqual(plan.epochOrder(1).slice(0, 9));
    // Without accumulation the same epoch order comes one batch per step.
    const one = new TrainingPlan(examples, { ...base, batchSize: 3, gradAccum: 1 });
    expect(one.stepsPerEpoch).toBe(4);
    expect(Array.from({ length: 4 }, (_, k) => rowsOf(one.microBatches(k).micro)).flat(2)).toEqual(plan.epochOrder(0));
    expect(new TrainingPlan(examples, { ...base, batchSize: 3, gradAccum: 0 }).gradAccum).toBe(1);
    expect(new TrainingPlan(examples, { ...base, batchSize: 3, gradAccum: 2, maxSteps: 17 }).totalSteps).toBe(17);
  });

  it('batchesOf: validation batches in order with the same truncation and bucketing', () => {
    const plan = new TrainingPlan(numbered(4, () => 5), { ...base, batchSize: 2, maxLength: 100 });
    const val = numbered(5, (i) => [3, 40, 120, 2, 9][i]);
    const batches = plan.batchesOf(val);
    expect(batches.map((b) => [b.B, b.T])).toEqual([
      [2, 64],
      [2, 100],
      [1, 32],
    ]);
    expect(batches.flatMap((b) => Array.from({ length: b.B }, (_, r) => b.inputIds[r * b.T] - 1000))).toEqual([0, 1, 2, 3, 4]);
    expect(plan.batchesOf([])).toEqual([]);
  });

  it('refuses an empty training set and a bad step', () => {
    expect(() => new TrainingPlan([], base)).toThrow(/empty/);
    const plan = new TrainingPlan(numbered(3, () => 3), base);
    expect(() => plan.microBatches(-1)).toThrow();
    expect(() => plan.microBatches(1.5)).toThrow();
  });
});

describe('TrainingPlan with packing', () => {
  /** Example indices of each packed row of a batch (each example starts at a position 0 and names itself). */
  const packedRowsOf = (b: Batch): number[][] =>
    Array.from({ length: b.B }, (_, r) => {
      const out: number[] = [];
      for (let t = 0; t < b.T; t++) if (b.positions![r * b.T + t] === 0 && b.attentionMask[r * b.T + t] === 1) out.push(b.inputIds[r * b.T + t] - 1000);
      return out;
    });

  it('packs rows of maxLength tokens; counts steps from the packed rows; every example once per epoch', () => {
    // 12 examples of 5 tokens in rows of 16: 3 per row, 4 rows; batches of 2 rows: 2 per epoch.
    const plan = new TrainingPlan(numbered(12, () => 5), { ...base, batchSize: 2, maxLength: 16, packing: true, epochs: 3 });
    expect([plan.maxSeq, plan.rowsPerEpoch, plan.batchesPerEpoch, plan.stepsPerEpoch, plan.totalSteps]).toEqual([16, 4, 2, 2, 6]);
    const all = Array.from({ length: 12 }, (_, i) => i);
    for (const epoch of [0, 1, 2]) {
      const seen: number[] = [];
      for (let k = 0; k < plan.stepsPerEpoch; k++) {
        const { epoch: e, micro } = plan.microBatches(epoch * plan.stepsPerEpoch + k);
        expect(e).toBe(epoch);
        for (const b of micro) {
          expect([b.B, b.T]).toEqual([2, 16]);
          for (const row of packedRowsOf(b)) {
            expect(row.length).toBe(3);
            seen.push(...row);
          }
          // 3 examples of 5 tokens, 4 targets each; 1 padding token.
          expect(countedTokens(b)).toBe(2 * 3 * 4);
          expect(b.attentionMask.reduce((a, m) => a + m, 0)).toBe(2 * 15);
        }
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(all);
    }
    const epochRows = (e: number) => plan.packedRows(e).map((r) => [...r].sort((a, b) => a - b));
    expect(epochRows(1)).not.toEqual(epochRows(0));
  });

  it('is the same batches for the same seed and step, resumed or not; other seeds differ', () => {
    const examples = numbered(60, (i) => 2 + ((i * 37) % 61));
    const opts: PlanOptions = { ...base, batchSize: 3, gradAccum: 2, maxLength: 64, packing: true };
    const full = new TrainingPlan(examples, opts);
    const steps = 2 * full.stepsPerEpoch + 1;
    const reference = Array.from({ length: steps }, (_, k) => full.microBatches(k));
    for (const k of [1, full.stepsPerEpoch, steps - 1]) {
      const resumed = new TrainingPlan(examples, opts);
      for (let s = k; s < steps; s++) expect(resumed.microBatches(s), `step ${s} resumed at ${k}`).toEqual(reference[s]);
    }
    expect(new TrainingPlan(examples, { ...opts, seed: 8 }).microBatches(0)).not.toEqual(reference[0]);
    // The same number of rows every epoch.
    for (const e of [0, 1, 2, 3]) expect(full.packedRows(e).length).toBe(full.rowsPerEpoch);
  });

  it('fills rows: far fewer padded tokens than padded batches of the same data', () => {
    // Skewed lengths: most short, a few long (2..64 tokens, rows of 64).
    const examples = numbered(200, (i) => (i % 10 === 0 ? 40 + (i % 25) : 2 + ((i * 7) % 20)));
    const real = examples.reduce((n, e) => n + e.inputIds.length, 0);
    const packed = new TrainingPlan(examples, { ...base, batchSize: 4, maxLength: 64, packing: true });
    let slots = 0;
    let tokens = 0;
    for (let k = 0; k < packed.stepsPerEpoch; k++) {
      for (const b of packed.microBatches(k).micro) {
        slots += b.B * b.T;
        tokens += b.attentionMask.reduce((a, m) => a + m, 0);
      }
    }
    expect(tokens).toBe(real);
    expect(packed.rowsPerEpoch).toBe(Math.ceil(real / 64));
    expect(tokens / slots).toBeGreaterThan(0.95);
  });

  it('groups rows of like fill into a batch and trims its T to the fullest row (bucketed)', () => {
    // Rows of 32 (bucket 8): best-fit gives rows of 30, 30, 20, 20 tokens. Grouped by fill the
    // batches are [30, 30] at T 32 and [20, 20] at T 24: 64 + 48 = 112 slots for 100 tokens,
    // whatever the seed (mixed, [30, 20] twice, would be 128).
    for (const seed of [1, 2, 3, 4, 5]) {
      const plan = new TrainingPlan(numbered(4, (i) => [30, 20, 30, 20][i]), { ...base, seed, batchSize: 2, maxLength: 32, bucket: 8, packing: true });
      expect(plan.maxSeq).toBe(32);
      const shapes = [0, 1].map((k) => plan.microBatches(k).micro.map((b) => [b.B, b.T])).flat();
      expect(shapes.sort((a, b) => a[1] - b[1]), `seed ${seed}`).toEqual([[2, 24], [2, 32]]);
      const real = [0, 1].flatMap((k) => plan.microBatches(k).micro).reduce((n, b) => n + b.attentionMask.reduce((a, m) => a + m, 0), 0);
      expect(real).toBe(100);
    }
    // Five rows (30, 30, 30, 20, 20) in batches of 2: [30, 30] and [30, 20] at T 32, and the short
    // batch [20] last at T 24, for every seed; every token once.
    for (const seed of [1, 2, 3, 4, 5]) {
      const plan = new TrainingPlan(numbered(5, (i) => [20, 30, 30, 20, 30][i]), { ...base, seed, batchSize: 2, maxLength: 32, bucket: 8, packing: true });
      const batches = [0, 1, 2].map((k) => plan.microBatches(k).micro).flat();
      expect(batches.map((b) => [b.B, b.T]), `seed ${seed}`).toEqual([[2, 32], [2, 32], [1, 24]]);
      expect(batches.reduce((n, b) => n + b.attentionMask.reduce((a, m) => a + m, 0), 0)).toBe(130);
    }
  });

  it('without maxLength packs into rows of the longest example; validation batches stay padded', () => {
    const plan = new TrainingPlan(numbered(6, (i) => [4, 9, 3, 5, 2, 7][i]), { ...base, batchSize: 8, packing: true });
    expect(plan.maxSeq).toBe(9);
    // Best-fit decreasing over 9, 7, 5, 4, 3, 2 in rows of 9: [9], [7, 2], [5, 4], [3].
    expect(plan.rowsPerEpoch).toBe(4);
    const [b] = plan.microBatches(0).micro;
    expect(packedRowsOf(b).map((r) => r.length).sort()).toEqual([1, 1, 2, 2]);
    // Validation: padded to its own longest row (3), as without packing.
    const [v] = plan.batchesOf(numbered(2, () => 3));
    expect(v.positions).toBeUndefined();
    expect([v.B, v.T]).toEqual([2, 3]);
  });
});

describe('TrainingPlan over PlanItems (a view over the example table)', () => {
  // The same examples as an array and as columns: every micro-batch and validation batch is equal.
  const same = (a: Batch[], b: Batch[]) => {
    expect(b.length).toBe(a.length);
    a.forEach((x, i) => {
      expect([b[i].B, b[i].T]).toEqual([x.B, x.T]);
      expect(Array.from(b[i].inputIds)).toEqual(Array.from(x.inputIds));
      expect(Array.from(b[i].labels)).toEqual(Array.from(x.labels));
      expect(Array.from(b[i].positions ?? [])).toEqual(Array.from(x.positions ?? []));
    });
  };
  for (const packing of [false, true]) {
    it(`gives the array's batches, step by step and for validation, without making an item to measure it (packing ${packing ? 'on' : 'off'})`, () => {
      const examples = numbered(37, (i) => 3 + ((i * 7) % 19));
      const table = new ExampleTable();
      examples.forEach((e, i) => table.push(i + 1, Int32Array.from(e.inputIds), Uint8Array.from(e.trainMask), false));
      let made = 0;
      const items = tableItems({ length: table.length, example: (i) => (made++, table.example(i)), tokenCount: (i) => table.tokenCount(i) });
      const { train, validation } = holdOut(items, 5, 3);
      const byArray = splitValidation(examples, 5 / examples.length, 3); // the same rule over the array
      const opts = { ...base, batchSize: 3, gradAccum: 2, maxLength: 16, epochs: 2, packing };
      const viaItems = new TrainingPlan(train, opts);
      const viaArray = new TrainingPlan(byArray.train, opts);
      expect(made).toBeLessThanOrEqual(1); // lengths come from the columns (packing looks at the first item: not a pair)
      expect([viaItems.totalSteps, viaItems.maxSeq]).toEqual([viaArray.totalSteps, viaArray.maxSeq]);
      for (let k = 0; k < viaArray.totalSteps; k++) same(viaArray.microBatches(k).micro, viaItems.microBatches(k).micro);
      same(viaArray.batchesOf(byArray.validation), viaItems.batchesOf(validation));
      expect(itemArray(itemSubset(items, [4, 1])).map((e) => ('inputIds' in e ? e.inputIds[0] : -1))).toEqual([1004, 1001]);
    });
  }
});
