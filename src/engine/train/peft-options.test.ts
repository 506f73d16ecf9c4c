// PEFT options that shape the adapter, through the whole engine, checked by identities that need
// no new reference (the uniform, every-layer runs are the ones the PyTorch fixtures check).
//
// rank_pattern / alpha_pattern: a module of rank r' < r is the rank-r module whose A rows and B
// columns beyond r' are zero, provided the scale is the same. Those zero rows and columns get
// exactly zero gradients (dA = dhᵀx with dh's extra columns = dout·B's zero columns; dB = doutᵀh
// with h's extra columns = x·(zero rows of A)ᵀ), so AdamW never moves them and both runs train
// the same numbers.
//
// layers_to_transform: an adapter on layer 1 only computes what the every-layer adapter computes
// when layer 0's B is zero: the same loss, logits and layer-1 gradients.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { maxAbsErr, relL2Err, rng, testGpu } from '../kernels/testing';
import { Decoder } from '../generate/decoder';
import { expectedLoraShapes, initLoraTensors } from '../lora/adapter';
import { siteLora } from '../lora/config';
import { loraKey } from '../lora/adapter';
import { PROJECTIONS, type HostTensor, type ModelSpec } from '../model/spec';
import { loadModelFolder } from '../model/weights';
import { Trainer } from './trainer';
import { DEFAULT_TRAIN, type Batch, type LoraHyper, type TrainHyper } from './types';

const modelDir = resolve(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');
const hyper: TrainHyper = { ...DEFAULT_TRAIN, lr: 1e-2, schedule: 'constant', maxSteps: 10, weightDecay: 0.01 };
const uniform: LoraHyper = { r: 4, alpha: 8, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false };
// Every module keeps scale alpha/r = 2: q_proj 4/2 in every layer, layer 1's down_proj 6/3.
const patterned: LoraHyper = {
  ...uniform,
  rankPattern: { q_proj: 2, 'model.layers.1.mlp.down_proj': 3 },
  alphaPattern: { q_proj: 4, 'layers.1.mlp.down_proj': 6 },
};

function batchOf(V: number): Batch {
  const g = rng(5);
  const B = 2;
  const T = 10;
  const inputIds = new Int32Array(B * T).map(() => Math.floor(g() * V));
  const labels = Int32Array.from(inputIds);
  labels[0] = -100;
  labels[T] = -100;
  return { B, T, inputIds, attentionMask: new Int32Array(B * T).fill(1), labels };
}

/** PEFT's init for `lora` with B uniform in ±0.08 instead of 0, so that every gradient flows. */
function withNonzeroB(spec: ModelSpec, lora: LoraHyper, seed: number): Map<string, HostTensor> {
  const tensors = initLoraTensors(spec, lora, seed);
  const g = rng(seed + 1);
  for (const [key, t] of tensors) if (key.endsWith('lora_B.weight')) t.data.forEach((_, i) => (t.data[i] = (g() * 2 - 1) * 0.08));
  return tensors;
}

/** Max |Δ| between the KV-cache decoder's logits after `ids` (with `dec`'s adapter) and the last row of `ref`'s forward. */
async function decoderError(dec: Trainer, ref: Trainer, ids: number[]): Promise<number> {
  const decoder = await Decoder.create(dec.gpu, dec.spec, dec.model.weights, { layout: dec.layout, params: dec.model.params }, { maxContext: ids.length + 1, chunk: 4 });
  const last = await decoder.feed(ids);
  decoder.destroy();
  const T = ids.length;
  const full = await ref.logits({ B: 1, T, inputIds: Int32Array.from(ids), attentionMask: new Int32Array(T).fill(1), labels: Int32Array.from(ids) });
  return maxAbsErr(last, full.subarray((T - 1) * dec.spec.vocabSize));
}

/** The patterned adapter with nonzero B, and its zero-padded rank-4 twin. */
function adapters(spec: ModelSpec): { small: Map<string, HostTensor>; padded: Map<string, HostTensor> } {
  const small = withNonzeroB(spec, patterned, 7);
  const padded = new Map<string, HostTensor>();
  for (const [key, shape] of expectedLoraShapes(spec, uniform)) padded.set(key, { shape, data: embed(small.get(key)!, shape) });
  return { small, padded };
}

/** `t` (r', in) or (out, r') copied into the top-left corner of a zero `shape`. */
function embed(t: HostTensor, shape: number[]): Float32Array {
  const out = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < t.shape[0]; i++) out.set(t.data.subarray(i * t.shape[1], (i + 1) * t.shape[1]), i * shape[1]);
  return out;
}

describe('rank_pattern and alpha_pattern', async () => {
  const model = await loadModelFolder(nodeFolder(modelDir));
  const spec = model.spec;
  const batch = batchOf(spec.vocabSize);

  it('per-module ranks and alphas resolve as PEFT matches module names', () => {
    expect(siteLora(patterned, 0, 'q_proj')).toEqual({ r: 2, alpha: 4, scale: 2 });
    expect(siteLora(patterned, 1, 'down_proj')).toEqual({ r: 3, alpha: 6, scale: 2 });
    expect(siteLora(patterned, 0, 'down_proj')).toEqual({ r: 4, alpha: 8, scale: 2 });
    expect(expectedLoraShapes(spec, patterned).get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')).toEqual([3, spec.intermediateSize]);
  });

  it('trains exactly as the zero-padded uniform-rank adapter: losses, norms, adapter, logits, decoding', async () => {
    const gpu = await testGpu();
    const { small, padded } = adapters(spec);
    const options = { maxBatch: 2, maxSeq: 10 };
    const a = await Trainer.create(gpu, model, patterned, hyper, { ...options, initAdapter: small });
    const b = await Trainer.create(gpu, model, uniform, hyper, { ...options, initAdapter: padded });
    expect(a.layout.totalFloats).toBeLessThan(b.layout.totalFloats);
    for (let step = 0; step < 3; step++) {
      const ra = await a.trainStep([batch]);
      const rb = await b.trainStep([batch]);
      expect(Math.abs(ra.loss - rb.loss) / rb.loss, `step ${step} loss`).toBeLessThan(1e-5);
      const [na, nb] = [ra.gradNorm ?? NaN, rb.gradNorm ?? NaN];
      expect(Math.abs(na - nb) / nb, `step ${step} grad norm`).toBeLessThan(1e-4);
    }
    const got = await a.exportAdapter();
    const twin = await b.exportAdapter();
    for (const [key, t] of got) {
      const full = twin.get(key)!;
      expect(relL2Err(embed(t, full.shape), full.data), key).toBeLessThan(1e-4);
      // the padding of the uniform run never moved: its trained values are the patterned ones
      if (!t.shape.every((d, i) => d === full.shape[i])) expect(maxAbsErr(embed(t, full.shape), full.data), key).toBeLessThan(1e-5);
    }
    expect(relL2Err(await a.logits(batch), await b.logits(batch))).toBeLessThan(1e-5);

    // The KV-cache decoder applies the per-site rank and scale too: one prefill's last logits.
    expect(await decoderError(a, b, Array.from(batch.inputIds.subarray(0, 6)))).toBeLessThan(1e-4);
    a.destroy();
    b.destroy();
  });

  it('the alpha pattern matters: without it the first loss differs (the identity above can fail)', async () => {
    const gpu = await testGpu();
    const { small, padded } = adapters(spec);
    const wrong: LoraHyper = { ...patterned, alphaPattern: undefined };
    const a = await Trainer.create(gpu, model, wrong, hyper, { maxBatch: 2, maxSeq: 10, initAdapter: small });
    const b = await Trainer.create(gpu, model, uniform, hyper, { maxBatch: 2, maxSeq: 10, initAdapter: padded });
    const la = await a.evalLoss(batch);
    const lb = await b.evalLoss(batch);
    expect(Math.abs(la - lb) / lb).toBeGreaterThan(1e-4);
    a.destroy();
    b.destroy();
  });
});

describe('layers_to_transform', async () => {
  const model = await loadModelFolder(nodeFolder(modelDir));
  const spec = model.spec;
  const batch = batchOf(spec.vocabSize);
  const layer1: LoraHyper = { ...uniform, layersToTransform: [1] };

  it('an adapter on layer 1 only: the every-layer adapter with layer 0 switched off (B = 0)', async () => {
    const gpu = await testGpu();
    const only1 = withNonzeroB(spec, layer1, 3);
    expect([...only1.keys()].every((k) => k.includes('.layers.1.'))).toBe(true);
    const every = initLoraTensors(spec, uniform, 5); // layer 0: random A, zero B
    for (const [key, t] of only1) every.set(key, t);
    const options = { maxBatch: 2, maxSeq: 10 };
    const a = await Trainer.create(gpu, model, layer1, hyper, { ...options, initAdapter: only1 });
    const b = await Trainer.create(gpu, model, uniform, hyper, { ...options, initAdapter: every });
    expect(a.layout.sites.map((s) => s.layer)).toEqual(PROJECTIONS.map(() => 1));
    expect(relL2Err(await a.logits(batch), await b.logits(batch))).toBeLessThan(1e-6);
    const la = (await a.accumulate([batch])).loss;
    const lb = (await b.accumulate([batch])).loss;
    expect(Math.abs(la - lb) / lb).toBeLessThan(1e-6);
    const ga = await a.gradients();
    const gb = await b.gradients();
    expect([...ga.keys()]).toEqual([...only1.keys()]);
    for (const [key, t] of ga) expect(relL2Err(t.data, gb.get(key)!.data), key).toBeLessThan(1e-5);
    // layer 0's B does get a gradient in the every-layer run: the comparison above is not vacuous
    expect(Math.max(...gb.get(loraKey(0, 'q_proj', 'B'))!.data.map(Math.abs))).toBeGreaterThan(0);

    // trains, and the decoder applies only layer 1's adapter
    const first = await a.evalLoss(batch);
    for (let s = 0; s < 3; s++) await a.trainStep([batch]);
    expect(await a.evalLoss(batch)).toBeLessThan(first);
    expect(await decoderError(a, a, Array.from(batch.inputIds.subarray(0, 6)))).toBeLessThan(1e-4);
    a.destroy();
    b.destroy();
  });

  it('gradient checkpointing with per-site ranks on some layers gives the same loss and gradients', async () => {
    const gpu = await testGpu();
    const lora: LoraHyper = { ...patterned, layersToTransform: [1] };
    const init = withNonzeroB(spec, lora, 8);
    const options = { maxBatch: 2, maxSeq: 10, initAdapter: init };
    const plain = await Trainer.create(gpu, model, lora, hyper, options);
    const ckpt = await Trainer.create(gpu, model, lora, { ...hyper, checkpointing: true }, options);
    const la = (await plain.accumulate([batch])).loss;
    const lb = (await ckpt.accumulate([batch])).loss;
    expect(Math.abs(la - lb)).toBeLessThan(1e-6);
    const ga = await plain.gradients();
    const gb = await ckpt.gradients();
    for (const [key, t] of ga) expect(relL2Err(gb.get(key)!.data, t.data), key).toBeLessThan(1e-6);
    plain.destroy();
    ckpt.destroy();
  });
});
