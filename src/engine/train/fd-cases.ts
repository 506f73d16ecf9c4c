// The model configurations of the whole-model gradient checks (gradient-fd.test.ts), shared with
// the packed-equals-unpacked test (packing.test.ts): the ones the PyTorch fixtures do not cover.
import { randomWeights } from '../model/presets';
import { PROJECTIONS, type HostTensor, type ModelSpec, type Projection } from '../model/spec';
import { rng } from '../kernels/random';
import type { LoraHyper } from './types';

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

export interface FdCase {
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

export const FD_CASES: FdCase[] = [
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
  {
    // Gemma 2 and 3 at once: (1 + w) norms in four places per layer, per-head q/k norms, GeLU-tanh
    // gate, embeddings × sqrt(hidden), query_pre_attn_scalar, a sliding layer (window 5, its own
    // RoPE base) and a full one, soft-capped scores and logits; rows longer than the window.
    name: 'Gemma: sandwich norms, GeLU-tanh, sliding window 5 + full layer, local RoPE base, soft-capping, checkpointing',
    spec: {
      ...base,
      architecture: 'Gemma3ForCausalLM',
      modelType: 'gemma3_text',
      headDim: 16,
      qkNorm: true,
      tieWordEmbeddings: true,
      hiddenAct: 'gelu_pytorch_tanh',
      queryPreAttnScalar: 24,
      slidingWindow: 5,
      layerTypes: ['sliding_attention', 'full_attention'],
      ropeLocal: { ...base.rope, theta: 100 },
      attnLogitSoftcapping: 1.5,
      finalLogitSoftcapping: 2,
    },
    lora: allTargets(4, 8),
    rows: 2,
    T: 14,
    pad: 3,
    checkpointing: true,
  },
  {
    // LongRoPE's short factors (every sequence here is within original_max_position_embeddings, so
    // packed and unpacked batches take the same ones; the long ones: testdata/phi4-mini-tiny).
    name: 'Phi-3: fused qkv_proj / gate_up_proj, partial rotary (6 of 8 dims), LongRoPE, tied head, checkpointing, 2 rows',
    spec: {
      ...base,
      architecture: 'Phi3ForCausalLM',
      modelType: 'phi3',
      rotaryDim: 6,
      tieWordEmbeddings: true,
      rope: { ...base.rope, type: 'longrope', factor: 4, originalMaxPositionEmbeddings: 64, attentionFactor: 1.2, longrope: { shortFactor: [1, 2.5, 7], longFactor: [1, 4, 16] } },
    },
    lora: allTargets(4, 8),
    rows: 2,
    T: 13,
    pad: 3,
    checkpointing: true,
  },
];

/** Frozen weights with some weight: matrices N(0, ~0.1), norms around 1, biases around 0. */
export function weightsFor(spec: ModelSpec, seed: number): Map<string, HostTensor> {
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
