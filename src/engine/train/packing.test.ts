// Packing changes nothing but the layout: the loss and every LoRA gradient of a packed batch
// (several examples per row, positions restarting at 0, labels -100 at each example's first token,
// padding at a row's tail) equal those of the same examples run one by one, unpacked, within 1e-5
// relative. The unpacked reference weighs each example by its counted tokens, as the loss is the
// mean over the batch's counted tokens: loss = Σ c_i loss_i / Σ c_i, gradient = Σ c_i g_i / Σ c_i.
// For every shared fixture's architecture (its model and adapter_init) and the finite-difference
// configurations (fd-cases.ts: MQA with llama3 RoPE and biases, Qwen3 q/k norm with linear RoPE,
// checkpointing with a chunked LM head, Phi-3's fused modules with partial rotary and LongRoPE),
// with dropout off. The packed batches are built here by
// hand, independently of the data side's packer.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { segmentPositions } from '../kernels/positions';
import { relL2Err, rng, testGpu } from '../kernels/testing';
import { readAdapter } from '../lora/adapter';
import type { HostTensor, ModelSpec } from '../model/spec';
import type { BaseTensor } from '../model/gpu-weights';
import type { WeightSource } from '../model/weight-source';
import { openModelFolder } from '../model/weights';
import { FD_CASES, weightsFor } from './fd-cases';
import { Trainer } from './trainer';
import { countedTokens, DEFAULT_TRAIN, type Batch, type LoraHyper } from './types';

/** One example: its tokens and labels (-100 where not trained). */
interface Example {
  ids: Int32Array;
  labels: Int32Array;
}

/** Examples of these lengths with random tokens; the first 1..3 tokens of each are an untrained prompt. */
function examples(lengths: number[], vocab: number, seed: number): Example[] {
  const g = rng(seed);
  return lengths.map((len, i) => {
    const ids = new Int32Array(len).map(() => Math.floor(g() * vocab));
    const labels = Int32Array.from(ids);
    labels.fill(-100, 0, Math.min(len, 1 + (i % 3)));
    return { ids, labels };
  });
}

/**
 * Rows of T tokens holding the examples in order, rows[b] of them in row b: tokens concatenated,
 * positions restarting at 0, labels -100 at each example's first token, then padding (random
 * tokens, mask 0, labels -100, positions counting on from 0).
 */
function pack(exs: Example[], rows: number[][], T: number, vocab: number): Batch {
  const B = rows.length;
  const g = rng(99);
  const inputIds = new Int32Array(B * T).map(() => Math.floor(g() * vocab));
  const attentionMask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  let next = 0;
  rows.forEach((lengths, b) => {
    let t = b * T;
    for (const len of lengths) {
      const ex = exs[next++];
      expect(ex.ids.length).toBe(len);
      inputIds.set(ex.ids, t);
      labels.set(ex.labels, t);
      labels[t] = -100;
      attentionMask.fill(1, t, t + len);
      t += len;
    }
  });
  expect(next).toBe(exs.length);
  return { B, T, inputIds, attentionMask, labels, positions: segmentPositions(T, rows) };
}

const alone = (ex: Example): Batch => ({ B: 1, T: ex.ids.length, inputIds: ex.ids, attentionMask: new Int32Array(ex.ids.length).fill(1), labels: ex.labels });

interface PackingCase {
  name: string;
  model: { spec: ModelSpec; weights: WeightSource | ReadonlyMap<string, BaseTensor> };
  lora: LoraHyper;
  /** The adapter to start from (fixtures), or random A and B (the finite-difference configurations). */
  initAdapter?: Map<string, HostTensor>;
  T: number;
  rows: number[][];
  checkpointing?: boolean;
  logitsChunkRows?: number;
}

/** The packed run against the token-weighted sum of the unpacked ones: loss (training and eval) and every gradient. */
async function checkPacking(c: PackingCase): Promise<void> {
  const gpu = await testGpu();
  const hyper = { ...DEFAULT_TRAIN, checkpointing: c.checkpointing ?? false };
  const t = await Trainer.create(gpu, c.model, { ...c.lora, dropout: 0 }, hyper, {
    maxBatch: c.rows.length,
    maxSeq: c.T,
    initAdapter: c.initAdapter,
    logitsChunkRows: c.logitsChunkRows,
  });
  try {
    if (!c.initAdapter) {
      // A and B both random (a fresh adapter has B = 0, which zeroes every gradient of A).
      const n = t.layout.totalFloats;
      const g = rng(9);
      const zeros = new Float32Array(n);
      t.loadState({ step: 0, params: new Float32Array(n).map(() => (g() - 0.5) * 0.5), m: zeros, v: zeros });
    }
    const exs = examples(c.rows.flat(), c.model.spec.vocabSize, 3);
    const packed = pack(exs, c.rows, c.T, c.model.spec.vocabSize);
    const got = await t.accumulate([packed]);
    const gotGrads = await t.gradients();
    const gotEval = await t.evalLoss(packed);

    // Unpacked: each example alone (those with no counted token add nothing), weighed by its counted tokens.
    let counted = 0;
    let loss = 0;
    let evalLoss = 0;
    const grads = new Map<string, Float64Array>();
    for (const ex of exs) {
      const batch = alone(ex);
      const ci = countedTokens(batch);
      if (ci === 0) continue;
      counted += ci;
      loss += ci * (await t.accumulate([batch])).loss;
      for (const [key, g] of await t.gradients()) {
        const sum = grads.get(key) ?? new Float64Array(g.data.length);
        for (let i = 0; i < sum.length; i++) sum[i] += ci * g.data[i];
        grads.set(key, sum);
      }
      evalLoss += ci * (await t.evalLoss(batch));
    }
    expect(countedTokens(packed)).toBe(counted);
    expect(Math.abs(got.loss - loss / counted) / (loss / counted), 'training loss').toBeLessThanOrEqual(1e-5);
    expect(Math.abs(gotEval - evalLoss / counted) / (evalLoss / counted), 'eval loss').toBeLessThanOrEqual(1e-5);
    expect(gotGrads.size).toBe(grads.size);
    for (const [key, sum] of grads) {
      const want = sum.map((x) => x / counted);
      const g = gotGrads.get(key)!.data;
      expect(Math.hypot(...want), `${key} is zero`).toBeGreaterThan(0);
      expect(relL2Err(g, want), key).toBeLessThanOrEqual(1e-5);
    }
  } finally {
    t.destroy();
  }
}

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const fixtures = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'model', 'config.json'))) : [];

describe('a packed batch = its examples run unpacked (loss, eval loss, every LoRA gradient, 1e-5)', () => {
  it('finds the reference fixtures', () => {
    expect(fixtures.length, `no fixtures under ${root}`).toBeGreaterThanOrEqual(3);
  });

  // Three rows of 20: a full row, padding after a one-token example, examples across tile edges.
  for (const name of fixtures) {
    it(`${name}: rows 7+1+12 | 5+9+3 (+3 padding) | 11 (+9 padding)`, async () => {
      const dir = join(root, name);
      const model = await openModelFolder(nodeFolder(join(dir, 'model')));
      const init = await readAdapter(nodeFolder(join(dir, 'adapter_init')), model.spec);
      await checkPacking({ name, model, lora: init.settings, initAdapter: init.tensors, T: 20, rows: [[7, 1, 12], [5, 9, 3], [11]] });
    });
  }

  const layouts: Record<number, number[][]> = {
    13: [[5, 1, 7], [4, 6], [13]],
    17: [[6, 1, 8]],
    14: [[6, 1, 7], [9, 5]], // the Gemma case: examples longer than its window of 5
    40: [[13, 1, 26], [17, 9, 3, 2], [33]],
  };
  for (const c of FD_CASES) {
    it(`${c.name}: rows ${layouts[c.T].map((r) => r.join('+')).join(' | ')} of ${c.T}`, async () => {
      const model = { spec: c.spec, weights: weightsFor(c.spec, 5) };
      await checkPacking({ name: c.name, model, lora: c.lora, T: c.T, rows: layouts[c.T], checkpointing: c.checkpointing, logitsChunkRows: c.logitsChunkRows });
    });
  }

  it('refuses positions that neither restart at 0 nor count up by 1, naming the token', async () => {
    const c = FD_CASES[1];
    const gpu = await testGpu();
    const t = await Trainer.create(gpu, { spec: c.spec, weights: weightsFor(c.spec, 5) }, c.lora, DEFAULT_TRAIN, { maxBatch: 1, maxSeq: 4 });
    try {
      const ids = Int32Array.from([1, 2, 3, 4]);
      const batch = { B: 1, T: 4, inputIds: ids, attentionMask: Int32Array.from([1, 1, 1, 1]), labels: ids, positions: Int32Array.from([0, 1, 3, 0]) };
      await expect(t.accumulate([batch])).rejects.toThrow(/batch 1x4: positions\[2\] \(row 0, token 2\) is 3/);
      await expect(t.evalLoss({ ...batch, positions: Int32Array.from([0, 1]) })).rejects.toThrow(/positions hold 2 entries, not 4/);
    } finally {
      t.destroy();
    }
  });
});
