// Trainer properties that hold whatever the model: checkpointing changes nothing, gradient
// accumulation equals one big batch, a resumed run continues exactly, dropout trains.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelFolder } from '../model/weights';
import { nodeFolder } from '../../io/node-files';
import { PROJECTIONS } from '../model/spec';
import { relL2Err, rng, testGpu } from '../kernels/testing';
import { Trainer } from './trainer';
import { DivergenceError } from './divergence';
import { GUARD } from '../kernels/guard';
import { DEFAULT_TRAIN, type Batch, type LoraHyper, type TrainHyper } from './types';

const modelDir = resolve(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');
const lora: LoraHyper = { r: 4, alpha: 8, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false };
const hyper: TrainHyper = { ...DEFAULT_TRAIN, lr: 1e-2, schedule: 'constant', maxSteps: 10, weightDecay: 0.01 };

function randomBatch(B: number, T: number, V: number, seed: number, padLast = 0): Batch {
  const g = rng(seed);
  const inputIds = new Int32Array(B * T).map(() => Math.floor(g() * V));
  const attentionMask = new Int32Array(B * T).fill(1);
  const labels = Int32Array.from(inputIds);
  for (let t = T - padLast; t < T; t++) {
    attentionMask[(B - 1) * T + t] = 0;
    labels[(B - 1) * T + t] = -100;
  }
  for (let b = 0; b < B; b++) labels[b * T] = -100;
  return { B, T, inputIds, attentionMask, labels };
}

function rows(batch: Batch, b: number): Batch {
  const { T } = batch;
  const s = (a: Int32Array) => a.slice(b * T, (b + 1) * T);
  return { B: 1, T, inputIds: s(batch.inputIds), attentionMask: s(batch.attentionMask), labels: s(batch.labels) };
}

async function gradsOf(t: Trainer, micro: Batch[]): Promise<{ loss: number; grads: Float32Array }> {
  const { loss } = await t.accumulate(micro);
  const g = await t.gradients();
  const parts = [...g.values()].map((x) => x.data);
  const flat = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    flat.set(p, o);
    o += p.length;
  }
  return { loss, grads: flat };
}

describe('trainer', async () => {
  const model = await loadModelFolder(nodeFolder(modelDir));
  const V = model.spec.vocabSize;
  const batch = randomBatch(2, 12, V, 3, 4);

  it('the LM head in chunks of 64 rows gives the same loss, gradients, eval loss and logits as one chunk', async () => {
    const gpu = await testGpu();
    // 3 × 50 = 150 tokens: chunks of 64, 64 and a ragged 22.
    const big = randomBatch(3, 50, V, 11, 7);
    const whole = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 3, maxSeq: 50 });
    const chunked = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 3, maxSeq: 50, logitsChunkRows: 64 });
    expect(whole.model.headChunks(150)).toHaveLength(1);
    expect(chunked.model.headChunks(150).map((c) => c.rows)).toEqual([64, 64, 22]);
    const a = await gradsOf(whole, [big]);
    const b = await gradsOf(chunked, [big]);
    expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-6);
    expect(relL2Err(b.grads, a.grads)).toBeLessThan(1e-6);
    expect(Math.abs((await whole.evalLoss(big)) - (await chunked.evalLoss(big)))).toBeLessThan(1e-5);
    const la = await whole.logits(big);
    const lb = await chunked.logits(big);
    expect(relL2Err(lb, la)).toBeLessThan(1e-6);
    whole.destroy();
    chunked.destroy();
  });

  it('gradient checkpointing gives the same loss and gradients', async () => {
    const gpu = await testGpu();
    const plain = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    const ckpt = await Trainer.create(gpu, model, lora, { ...hyper, checkpointing: true }, { maxBatch: 2, maxSeq: 12 });
    const a = await gradsOf(plain, [batch]);
    const b = await gradsOf(ckpt, [batch]);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
    expect(relL2Err(b.grads, a.grads)).toBeLessThan(1e-6);
    plain.destroy();
    ckpt.destroy();
  });

  it('two micro-batches of one row equal one batch of two rows', async () => {
    const gpu = await testGpu();
    const one = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    const two = await Trainer.create(gpu, model, lora, { ...hyper, gradAccum: 2 }, { maxBatch: 1, maxSeq: 12 });
    const a = await gradsOf(one, [batch]);
    const b = await gradsOf(two, [rows(batch, 0), rows(batch, 1)]);
    expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
    expect(relL2Err(b.grads, a.grads)).toBeLessThan(1e-5);
    one.destroy();
    two.destroy();
  });

  it('a run resumed from saved state continues with the same losses', async () => {
    const gpu = await testGpu();
    const first = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    await first.trainStep([batch]);
    await first.trainStep([batch]);
    const state = await first.saveState();
    const straight = [(await first.trainStep([batch])).loss, (await first.trainStep([batch])).loss];
    const resumed = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    resumed.loadState(state);
    const again = [(await resumed.trainStep([batch])).loss, (await resumed.trainStep([batch])).loss];
    expect(resumed.step).toBe(4);
    for (let i = 0; i < 2; i++) expect(Math.abs(again[i] - straight[i])).toBeLessThan(1e-6);
    first.destroy();
    resumed.destroy();
  });

  it('steps whose first micro-batch was encoded during the previous step train exactly as steps encoded on the spot', async () => {
    const gpu = await testGpu();
    const short = randomBatch(2, 8, V, 5);
    const order = [batch, batch, short, short, batch]; // the shape changes at steps 3 and 5
    const ahead = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    const onTheSpot = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    const a: number[] = [];
    const b: number[] = [];
    for (const x of order) {
      a.push((await ahead.trainStep([x])).loss);
      (onTheSpot as unknown as { encodedAhead: unknown }).encodedAhead = null; // forces encoding on the spot
      b.push((await onTheSpot.trainStep([x])).loss);
    }
    expect(ahead.stepsEncodedAhead, 'steps 2 and 4 repeat the previous shape').toBe(2);
    expect(onTheSpot.stepsEncodedAhead).toBe(0);
    expect(a).toEqual(b);
    ahead.destroy();
    onTheSpot.destroy();
  });

  it('trains with LoRA dropout: finite losses that fall', async () => {
    const gpu = await testGpu();
    const t = await Trainer.create(gpu, model, { ...lora, dropout: 0.1 }, hyper, { maxBatch: 2, maxSeq: 12 });
    const losses: number[] = [];
    for (let s = 0; s < 6; s++) losses.push((await t.trainStep([batch])).loss);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(losses[5]).toBeLessThan(losses[0]);
    t.destroy();
  });

  it('pre-quantized matrices (a library model) train exactly like quantizing on upload', async () => {
    const { quantize } = await import('../../quant/format');
    const { expectedWeightShapes } = await import('../model/weights');
    const gpu = await testGpu();
    const pre = new Map<string, import('../model/gpu-weights').BaseTensor>();
    for (const [name, shape] of expectedWeightShapes(model.spec)) {
      const t = model.weights.get(name)!;
      pre.set(name, shape.length === 2 ? quantize(t.data, shape[0], shape[1], 'int4') : t);
    }
    const a = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12, quant: 'int4' });
    const b = await Trainer.create(gpu, { spec: model.spec, weights: pre }, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    const la = (await a.trainStep([batch])).loss;
    const lb = (await b.trainStep([batch])).loss;
    expect(lb).toBe(la);
    a.destroy();
    b.destroy();
  });

  it('a step waits on one read-back: the optimizer is queued behind the loss, not after reading it', async () => {
    const gpu = await testGpu();
    const t = await Trainer.create(gpu, model, lora, { ...hyper, gradAccum: 2 }, { maxBatch: 1, maxSeq: 12 });
    const proto = Object.getPrototypeOf((t as unknown as { readback: GPUBuffer }).readback) as GPUBuffer;
    const original = proto.mapAsync;
    let maps = 0;
    proto.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
      maps++;
      return original.apply(this, args);
    };
    try {
      for (let s = 0; s < 3; s++) await t.trainStep([rows(batch, 0), rows(batch, 1)]);
    } finally {
      proto.mapAsync = original;
    }
    expect(maps).toBe(3);
    t.destroy();
  });

  it('a learning rate of 1e6 is refused at step 1 by the GPU guard, and the adapter stays as it was', async () => {
    const gpu = await testGpu();
    const t = await Trainer.create(gpu, model, lora, { ...hyper, lr: 1e6 }, { maxBatch: 2, maxSeq: 12 });
    const before = await t.exportAdapter();
    const err = await t.trainStep([batch]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as DivergenceError).health.flags & GUARD.paramOverBound).toBeTruthy();
    expect((err as Error).message).toMatch(/diverged at step 1.*lower the learning rate.*clipping/s);
    expect(t.step).toBe(0);
    const after = await t.exportAdapter();
    for (const [k, v] of before) expect(after.get(k)!.data, k).toEqual(v.data);
    t.destroy();
  });

  it('refuses a step without trained tokens', async () => {
    const gpu = await testGpu();
    const t = await Trainer.create(gpu, model, lora, hyper, { maxBatch: 2, maxSeq: 12 });
    const empty = { ...batch, labels: new Int32Array(batch.labels.length).fill(-100) };
    await expect(t.accumulate([empty])).rejects.toThrow(/no trained tokens/);
    t.destroy();
  });
});
