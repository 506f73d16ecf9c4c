// The whole model's LoRA gradients against finite differences of its own loss, for configurations
// the PyTorch fixtures do not cover: multi-query attention, llama3 and linear RoPE scaling, rsLoRA,
// biases on every projection, q/k norm with head_dim != hidden/heads, a subset of target modules,
// batches of 1 and 3 rows with padding, checkpointing and a chunked LM head. The check is
// independent of the backward code: d/dε loss(p + ε·d) by central differences against g·d, for
// random directions d over every LoRA parameter.
import { describe, expect, it } from 'vitest';
import { matmulSplitSlices } from '../kernels/matmul';
import { randomWeights } from '../model/presets';
import { PROJECTIONS, type ModelSpec, type Projection } from '../model/spec';
import type { HostTensor } from '../model/spec';
import { rng, testGpu } from '../kernels/testing';
import { Trainer } from './trainer';
import { DEFAULT_TRAIN, type Batch, type LoraHyper } from './types';

const base: ModelSpec = {
  architecture: 'LlamaForCausalLM',
  modelType: 'llama',
  vocabSize: 96,
  hiddenSize: 32,
  intermediateSize: 48,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-5,
  rope: { type: 'default', theta: 10000, factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 2048 },
  tieWordEmbeddings: false,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
  qkNorm: false,
  maxPositionEmbeddings: 2048,
  bosTokenId: null,
  eosTokenId: null,
  padTokenId: null,
};

interface Case {
  name: string;
  spec: ModelSpec;
  lora: LoraHyper;
  rows: number;
  T: number;
  /** Right padding of the last row. */
  pad: number;
  checkpointing?: boolean;
  logitsChunkRows?: number;
}

const allTargets = (r: number, alpha: number, useRslora = false, targetModules: Projection[] = [...PROJECTIONS]): LoraHyper => ({
  r,
  alpha,
  dropout: 0,
  targetModules,
  useRslora,
});

const CASES: Case[] = [
  {
    name: 'multi-query attention, llama3 RoPE, rsLoRA, biases everywhere, 3 rows with padding',
    spec: {
      ...base,
      numKvHeads: 1,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      rope: { type: 'llama3', theta: 500000, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
    },
    lora: allTargets(4, 16, true),
    rows: 3,
    T: 13,
    pad: 4,
  },
  {
    name: 'q/k norm, head_dim 16 != hidden/heads, linear RoPE, tied embeddings, three MLP targets, 1 row',
    spec: {
      ...base,
      architecture: 'Qwen3ForCausalLM',
      modelType: 'qwen3',
      headDim: 16,
      qkNorm: true,
      tieWordEmbeddings: true,
      rope: { ...base.rope, type: 'linear', factor: 2 },
    },
    lora: allTargets(8, 8, false, ['o_proj', 'up_proj', 'down_proj']),
    rows: 1,
    T: 17,
    pad: 0,
  },
  {
    // Vocabulary 2048: the head backward (64 rows × 32 outputs, K = 2048) splits its reduction (split-K).
    name: 'full multi-head attention, checkpointing, LM head in chunks of 64 rows (3 × 40 tokens), head split-K',
    spec: { ...base, numKvHeads: 4, vocabSize: 2048 },
    lora: allTargets(2, 4, false, ['q_proj', 'v_proj', 'gate_proj']),
    rows: 3,
    T: 40,
    pad: 9,
    checkpointing: true,
    logitsChunkRows: 64,
  },
];

/** Frozen weights with some weight: matrices N(0, ~0.1), norms around 1, biases around 0. */
function weightsFor(spec: ModelSpec, seed: number): Map<string, HostTensor> {
  const g = rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, t] of randomWeights(spec, seed)) {
    const h = t as HostTensor;
    const data = h.data;
    if (name.endsWith('norm.weight')) for (let i = 0; i < data.length; i++) data[i] = 1 + (g() - 0.5) * 0.4;
    else if (name.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] = (g() - 0.5) * 0.2;
    else for (let i = 0; i < data.length; i++) data[i] *= 5;
    out.set(name, h);
  }
  return out;
}

function batchFor(c: Case, seed: number): Batch {
  const g = rng(seed);
  const { rows: B, T, pad } = c;
  const inputIds = new Int32Array(B * T).map(() => Math.floor(g() * c.spec.vocabSize));
  const attentionMask = new Int32Array(B * T).fill(1);
  const labels = Int32Array.from(inputIds);
  for (let b = 0; b < B; b++) labels[b * T] = labels[b * T + 1] = -100; // a masked "prompt"
  for (let t = T - pad; t < T; t++) {
    attentionMask[(B - 1) * T + t] = 0;
    labels[(B - 1) * T + t] = -100;
  }
  return { B, T, inputIds, attentionMask, labels };
}

describe('whole-model LoRA gradients = finite differences of the loss', () => {
  it('the chunked-head case really splits the head backward', () => {
    expect(matmulSplitSlices(1, 2048)).toBeGreaterThan(1);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const hyper = { ...DEFAULT_TRAIN, checkpointing: c.checkpointing ?? false };
      const t = await Trainer.create(gpu, { spec: c.spec, weights: weightsFor(c.spec, 5) }, c.lora, hyper, {
        maxBatch: c.rows,
        maxSeq: c.T,
        logitsChunkRows: c.logitsChunkRows,
      });
      try {
        // A and B both random (a fresh adapter has B = 0, which zeroes every gradient of A).
        const n = t.layout.totalFloats;
        const g = rng(9);
        const p0 = new Float32Array(n).map(() => (g() - 0.5) * 0.5);
        const zeros = new Float32Array(n);
        t.loadState({ step: 0, params: p0, m: zeros, v: zeros });
        const batch = batchFor(c, 3);
        await t.accumulate([batch]);
        const flatGrad = await gpu.readF32(t.model.grads, n);
        // Directions of unit length: the gradient's own, and halfway between it and a random one.
        const unit = (v: Float32Array): Float32Array => {
          const norm = Math.hypot(...v);
          return v.map((x) => x / norm);
        };
        const gHat = unit(flatGrad);
        const rHat = unit(new Float32Array(n).map(() => g() - 0.5));
        for (const d of [gHat, unit(gHat.map((x, i) => x + rHat[i]))]) {
          let gd = 0;
          for (let i = 0; i < n; i++) gd += flatGrad[i] * d[i];
          const lossAt = async (step: number): Promise<number> => {
            t.loadState({ step: 0, params: p0.map((v, i) => v + step * d[i]), m: zeros, v: zeros });
            return t.evalLoss(batch);
          };
          const central = async (h: number): Promise<number> => ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
          // Richardson: the O(h²) curvature terms of two central differences cancel, leaving O(h⁴)
          // and the f32 rounding of the loss (~1e-6 / h).
          const h = 4e-3;
          const fd = (4 * (await central(h / 2)) - (await central(h))) / 3;
          expect(Math.abs(gd)).toBeGreaterThan(1e-2);
          expect(Math.abs(fd - gd) / Math.abs(gd)).toBeLessThan(2e-3);
        }
      } finally {
        t.destroy();
      }
    });
  }
});
