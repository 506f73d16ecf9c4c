// What the engine needs to know about a model, parsed from config.json (see config.ts).
// Shapes follow PyTorch: a linear weight is (out_features, in_features).

export type Projection = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

export const PROJECTIONS: readonly Projection[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The HF module that owns each projection: `self_attn` or `mlp`. */
export function projectionModule(p: Projection): 'self_attn' | 'mlp' {
  return p === 'gate_proj' || p === 'up_proj' || p === 'down_proj' ? 'mlp' : 'self_attn';
}

/** RoPE frequencies as transformers computes them (modeling_rope_utils). */
export interface RopeConfig {
  theta: number;
  /**
   * 'dynamic' (dynamic NTK): transformers rescales the base only for sequences longer than
   * max_position_embeddings; within it the frequencies are the default ones, and longer sequences
   * are refused here (ropeTables).
   */
  type: 'default' | 'linear' | 'llama3' | 'dynamic' | 'yarn';
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
}

export interface ModelSpec {
  /** config.json `architectures[0]`, e.g. LlamaForCausalLM. */
  architecture: string;
  modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3';
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
  /** Mistral's attention window: sequences longer than it are refused (full attention only). */
  slidingWindow?: number | null;
}

/** [out_features, in_features] of a projection's weight. */
export function projectionShape(spec: ModelSpec, p: Projection): [number, number] {
  const C = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  switch (p) {
    case 'q_proj':
      return [q, C];
    case 'k_proj':
    case 'v_proj':
      return [kv, C];
    case 'o_proj':
      return [C, q];
    case 'gate_proj':
    case 'up_proj':
      return [spec.intermediateSize, C];
    case 'down_proj':
      return [C, spec.intermediateSize];
  }
}

/** The transformers parameter name of a projection weight in layer `layer`. */
export function projectionWeightName(layer: number, p: Projection): string {
  return `model.layers.${layer}.${projectionModule(p)}.${p}.weight`;
}

/** A tensor held on the host in f32, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
