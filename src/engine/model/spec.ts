// What the engine needs to know about a model, parsed from config.json (see config.ts).
// Shapes follow PyTorch: a linear weight is (out_features, in_features).

import type { ModelFamily, Projection } from './arch/types';

// The module vocabulary and the tensor names live in the architecture table (./arch).
export type { Projection };
export { PROJECTIONS, projectionModule, projectionShape, projectionWeightName } from './arch/tensors';

/** Each layer's attention kind (config.json `layer_types`). */
export type AttentionLayerType = 'full_attention' | 'sliding_attention';

/** RoPE frequencies as transformers computes them (modeling_rope_utils). */
export interface RopeConfig {
  theta: number;
  /**
   * 'dynamic' (dynamic NTK): transformers rescales the base only for sequences longer than
   * max_position_embeddings; within it the frequencies are the default ones, and longer sequences
   * are refused here (ropeTables).
   */
  type: 'default' | 'linear' | 'llama3' | 'dynamic' | 'yarn' | 'longrope';
  /** linear, llama3 and dynamic: the scaling factor; 1 for default. */
  factor: number;
  /** llama3 only (originalMaxPositionEmbeddings: llama3's, and dynamic's max_position_embeddings). */
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
  /** yarn: cos and sin are multiplied by it (transformers' attention_scaling); absent = 1. */
  attentionFactor?: number;
  /** yarn: the correction range's rotation bounds and whether it is rounded outward. */
  yarn?: { betaFast: number; betaSlow: number; truncate: boolean };
  /**
   * longrope (Phi-3): per-frequency divisors, short_factor for positions within
   * originalMaxPositionEmbeddings, long_factor beyond (transformers picks by the sequence's length);
   * attentionFactor from max_position_embeddings / original_max_position_embeddings.
   */
  longrope?: { shortFactor: number[]; longFactor: number[] };
}

export interface ModelSpec {
  /** config.json `architectures[0]`, e.g. LlamaForCausalLM. */
  architecture: string;
  modelType: ModelFamily;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** From config `head_dim` when present (Qwen3 may differ from hidden/heads), else hidden/heads. */
  headDim: number;
  rmsNormEps: number;
  rope: RopeConfig;
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (Qwen2; Llama `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama `attention_bias` puts it on o_proj too). */
  oBias: boolean;
  /** Bias on gate/up/down (Llama `mlp_bias`). */
  mlpBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /**
   * The attention window of sliding layers (query t sees keys t-W+1..t): Mistral (every layer),
   * Gemma (the layers layerTypes marks). Absent or null: full attention. Read it through
   * arch/features.ts (slidingWindowOf, layerAttention, attentionContextLimit): one policy.
   */
  slidingWindow?: number | null;
  /** Per layer (length numLayers); absent = every layer sliding when slidingWindow is set (Mistral). */
  layerTypes?: readonly AttentionLayerType[];
  /** RoPE of sliding layers where it differs from `rope` (Gemma 3's rope_local_base_freq). */
  ropeLocal?: RopeConfig | null;
  /** The MLP activation; absent = silu. */
  hiddenAct?: 'silu' | 'gelu_pytorch_tanh';
  /** Attention scores scale by query_pre_attn_scalar^-0.5 (Gemma); absent = head_dim^-0.5. */
  queryPreAttnScalar?: number;
  /** cap·tanh(s/cap) on attention scores (Gemma 2); absent or null = none. */
  attnLogitSoftcapping?: number | null;
  /** cap·tanh(z/cap) on the logits (Gemma 2); absent or null = none. */
  finalLogitSoftcapping?: number | null;
  /** Head dimensions RoPE rotates (head_dim × partial_rotary_factor, Phi-4-mini); absent = head_dim. */
  rotaryDim?: number;
}

/** A tensor held on the host in f32, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
