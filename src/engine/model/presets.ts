// Real model configurations (as their config.json files state them) for benchmarks with random
// weights of the real shapes.
import type { ModelSpec } from './spec';
import { expectedWeightShapes } from './weights';
import type { HostTensor } from './spec';
import { rng } from '../kernels/random';

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

/** Random weights of the spec's real shapes: N(0, 0.02) matrices, norms at 1, biases at 0. */
export function randomWeights(spec: ModelSpec, seed: number): Map<string, HostTensor> {
  const r = rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of expectedWeightShapes(spec)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = (r() + r() + r() - 1.5) * 0.04;
    out.set(name, { shape, data });
  }
  return out;
}
