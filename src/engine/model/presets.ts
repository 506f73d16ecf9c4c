// Real model configurations (as their config.json files state them) for benchmarks with random
// weights of the real shapes.
import type { ModelSpec } from './spec';
import { expectedWeightShapes } from './weights';
import { parseModelConfig } from './config';
import { archOf } from './arch';
import { rng } from '../kernels/random';
import { blocksPerRow, QUANT_BLOCK, quantize, wordsPerRow, type QuantKind, type QuantizedTensor } from '../../quant/format';
import type { BaseQuant, BaseTensor } from './gpu-weights';

const base = {
  bosTokenId: null,
  eosTokenId: null,
  padTokenId: null,
  oBias: false,
  mlpBias: false,
  qkNorm: false,
  qkvBias: false,
  maxPositionEmbeddings: 8192,
};
const defaultRope = { type: 'default' as const, factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };

/** Gemma 3's text config.json fields (google/gemma-3-270m and gemma-3-1b-pt share all but the sizes). */
const gemma3 = (o: { hidden: number; intermediate: number; layers: number }): ModelSpec =>
  parseModelConfig({
    architectures: ['Gemma3ForCausalLM'],
    model_type: 'gemma3_text',
    vocab_size: 262144,
    hidden_size: o.hidden,
    intermediate_size: o.intermediate,
    num_hidden_layers: o.layers,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 256,
    query_pre_attn_scalar: 256,
    sliding_window: 512,
    sliding_window_pattern: 6,
    max_position_embeddings: 32768,
    rope_theta: 1_000_000,
    rope_local_base_freq: 10_000,
    rms_norm_eps: 1e-6,
    hidden_activation: 'gelu_pytorch_tanh',
    bos_token_id: 2,
    eos_token_id: 1,
    pad_token_id: 0,
  });

export const PRESETS: Record<string, ModelSpec> = {
  'smollm2-135m': {
    ...base,
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize: 49152,
    hiddenSize: 576,
    intermediateSize: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    headDim: 64,
    rmsNormEps: 1e-5,
    rope: { ...defaultRope, theta: 100000 },
    tieWordEmbeddings: true,
  },
  'qwen2.5-0.5b': {
    ...base,
    architecture: 'Qwen2ForCausalLM',
    modelType: 'qwen2',
    vocabSize: 151936,
    hiddenSize: 896,
    intermediateSize: 4864,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    headDim: 64,
    rmsNormEps: 1e-6,
    rope: { ...defaultRope, theta: 1000000 },
    tieWordEmbeddings: true,
    qkvBias: true,
  },
  'qwen3-0.6b': {
    ...base,
    architecture: 'Qwen3ForCausalLM',
    modelType: 'qwen3',
    vocabSize: 151936,
    hiddenSize: 1024,
    intermediateSize: 3072,
    numLayers: 28,
    numHeads: 16,
    numKvHeads: 8,
    headDim: 128,
    rmsNormEps: 1e-6,
    rope: { ...defaultRope, theta: 1000000 },
    tieWordEmbeddings: true,
    qkNorm: true,
  },
  'llama-3.2-1b': {
    ...base,
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize: 128256,
    hiddenSize: 2048,
    intermediateSize: 8192,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64,
    rmsNormEps: 1e-5,
    rope: { type: 'llama3', theta: 500000, factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    tieWordEmbeddings: true,
  },
  'gemma-3-270m': gemma3({ hidden: 640, intermediate: 2048, layers: 18 }),
  'gemma-3-1b': gemma3({ hidden: 1152, intermediate: 6912, layers: 26 }),
  // google/gemma-2-2b's config.json.
  'gemma-2-2b': parseModelConfig({
    architectures: ['Gemma2ForCausalLM'],
    model_type: 'gemma2',
    vocab_size: 256000,
    hidden_size: 2304,
    intermediate_size: 9216,
    num_hidden_layers: 26,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    head_dim: 256,
    query_pre_attn_scalar: 256,
    sliding_window: 4096,
    attn_logit_softcapping: 50,
    final_logit_softcapping: 30,
    max_position_embeddings: 8192,
    rope_theta: 10_000,
    rms_norm_eps: 1e-6,
    hidden_activation: 'gelu_pytorch_tanh',
    bos_token_id: 2,
    eos_token_id: 1,
    pad_token_id: 0,
  }),
  // microsoft/Phi-4-mini-instruct: fused qkv_proj / gate_up_proj, 96 of 128 head dims rotated,
  // LongRoPE over 4096 → 131072 positions (its rope_scaling factors), tied 200k-token head.
  'phi-4-mini': {
    ...base,
    architecture: 'Phi3ForCausalLM',
    modelType: 'phi3',
    vocabSize: 200064,
    hiddenSize: 3072,
    intermediateSize: 8192,
    numLayers: 32,
    numHeads: 24,
    numKvHeads: 8,
    headDim: 128,
    rotaryDim: 96,
    rmsNormEps: 1e-5,
    maxPositionEmbeddings: 131072,
    bosTokenId: 199999,
    eosTokenId: 200020,
    padTokenId: 199999,
    rope: {
      type: 'longrope',
      theta: 10000,
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 1,
      originalMaxPositionEmbeddings: 4096,
      attentionFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)),
      longrope: {
        shortFactor: new Array<number>(48).fill(1),
        longFactor: [
          1, 1.118320672, 1.250641126, 1.398617824, 1.564103225, 1.74916897, 1.956131817, 2.187582649, 2.446418898, 2.735880826, 3.059592084, 3.421605075,
          3.826451687, 4.279200023, 4.785517845, 5.351743533, 5.984965424, 6.693110555, 7.485043894, 8.370679318, 9.36110372, 10.4687158, 11.70738129,
          13.09260651, 14.64173252, 16.37415215, 18.31155283, 20.47818807, 22.90118105, 25.61086418, 28.64115884, 32.03, 32.1, 32.13, 32.23, 32.6, 32.61,
          32.64, 32.66, 32.7, 32.71, 32.93, 32.97, 33.28, 33.49, 33.5, 44.16, 47.77,
        ],
      },
    },
    tieWordEmbeddings: true,
  },
  tiny: {
    ...base,
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize: 512,
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    rmsNormEps: 1e-5,
    rope: { ...defaultRope, theta: 10000 },
    tieWordEmbeddings: false,
  },
};

/** Fills `out` with N(0, 0.02)-like values: each an Irwin–Hall sum of the 4 bytes of one xorshift32 word. */
function fillRandom(out: Float32Array, state: Uint32Array): void {
  // The sum of 4 uniform bytes has mean 510 and standard deviation sqrt(4 * (256² - 1) / 12) ≈ 147.8.
  const k = 0.02 / 147.8;
  let s = state[0];
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s & 255) + ((s >>> 8) & 255) + ((s >>> 16) & 255) + ((s >>> 24) & 255) - 510) * k;
  }
  state[0] = s;
}

/** A nonzero xorshift32 state for tensor `index` of a run seeded with `seed`. */
function tensorState(seed: number, index: number): Uint32Array {
  const r = rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  return new Uint32Array([Math.floor(r() * 0xffffffff) + 1]);
}

/** Floats generated (and, when quantizing, held in f32) at a time for one matrix. */
const CHUNK_FLOATS = 1 << 22;

/**
 * A random block-quantized (rows, cols) matrix made directly as codes, with no f32 pass (cols a
 * multiple of 32): uniform codes, one scale per tensor (its sign alternating by block, so the values
 * average 0) chosen for a standard deviation of 0.02. What a real quantized model would hold is
 * irrelevant to speed and memory; this takes one xorshift32 word per 8 (int4) or 4 (int8) values.
 */
function randomCodes(kind: QuantKind, rows: number, cols: number, state: Uint32Array): QuantizedTensor {
  const qweight = new Uint32Array(rows * wordsPerRow(kind, cols));
  const scales = new Float32Array(rows * blocksPerRow(cols));
  // int4: q - 8 uniform in [-8, 7], std ≈ 4.61; int8: q uniform in [-127, 127], std ≈ 73.6.
  const scale = Math.fround(0.02 / (kind === 'int4' ? 4.61 : 73.6));
  for (let i = 0; i < scales.length; i++) scales[i] = i & 1 ? -scale : scale;
  let s = state[0];
  for (let i = 0; i < qweight.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    let w = s >>> 0;
    // int8 never stores -128 (0x80): make it -127.
    if (kind === 'int8') {
      if ((w & 0xff) === 0x80) w ^= 0x01;
      if (((w >>> 8) & 0xff) === 0x80) w ^= 0x0100;
      if (((w >>> 16) & 0xff) === 0x80) w ^= 0x010000;
      if (w >>> 24 === 0x80) w = (w ^ 0x01000000) >>> 0;
    }
    qweight[i] = w;
  }
  state[0] = s;
  return { kind, rows, cols, qweight, scales };
}

/**
 * Random weights of the spec's real shapes: N(0, 0.02)-like matrices (a cheap generator: a 1B
 * model has 1.2 billion values), norms at their identity (1, or 0 for Gemma's x·(1 + w)), biases at 0. Deterministic per seed. With quant
 * int8/int4 the matrices (projections, embedding, LM head) come back already block-quantized, made
 * as random codes (see randomCodes), so the host never holds the model in f32; the upload keeps
 * them as they are.
 */
export function randomWeights(spec: ModelSpec, seed: number, quant: BaseQuant = 'none'): Map<string, BaseTensor> {
  const out = new Map<string, BaseTensor>();
  for (const name of expectedWeightShapes(spec).keys()) out.set(name, randomWeight(spec, seed, name, quant));
  return out;
}

/**
 * One tensor of randomWeights (the same values), made on its own: an export can then take a
 * preset's tensors one at a time without the whole model in memory.
 */
export function randomWeight(spec: ModelSpec, seed: number, name: string, quant: BaseQuant = 'none'): BaseTensor {
  const names = [...expectedWeightShapes(spec)];
  const index = names.findIndex(([n]) => n === name);
  if (index < 0) throw new Error(`randomWeight: ${name} is not a tensor of this model`);
  const shape = names[index][1];
  const n = shape.reduce((a, b) => a * b, 1);
  const state = tensorState(seed, index);
  const isMatrix = shape.length === 2 && !name.endsWith('norm.weight') && !name.endsWith('.bias');
  if (isMatrix && quant !== 'none') {
    const [rows, cols] = shape;
    if (cols % QUANT_BLOCK === 0) return randomCodes(quant, rows, cols, state);
    // A width with a padded last block: f32 values quantized a few rows at a time.
    const qweight = new Uint32Array(rows * wordsPerRow(quant, cols));
    const scales = new Float32Array(rows * blocksPerRow(cols));
    const step = Math.max(1, Math.floor(CHUNK_FLOATS / cols));
    const buf = new Float32Array(Math.min(rows, step) * cols);
    for (let r0 = 0; r0 < rows; r0 += step) {
      const r1 = Math.min(rows, r0 + step);
      const f = buf.subarray(0, (r1 - r0) * cols);
      fillRandom(f, state);
      const q = quantize(f, r1 - r0, cols, quant);
      qweight.set(q.qweight, r0 * wordsPerRow(quant, cols));
      scales.set(q.scales, r0 * blocksPerRow(cols));
    }
    return { kind: quant, rows, cols, qweight, scales };
  }
  const data = new Float32Array(n);
  if (name.endsWith('norm.weight')) data.fill(archOf(spec).normWeight === 'one_plus_w' ? 0 : 1);
  else if (!name.endsWith('.bias')) fillRandom(data, state);
  return { shape, data };
}
