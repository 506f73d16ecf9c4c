// The vocabulary of the architecture table (families.ts): what a family's tensors are, how they
// are named in a Hugging Face checkpoint, in a PEFT adapter and in GGUF, and what the engine and
// each exporter must compute to run them.

/** config.json `model_type` of each family the table describes. */
export type ModelFamily = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma3_text' | 'gemma2' | 'phi3';

/**
 * A linear module of a decoder layer, by its Hugging Face / PEFT name: one LoRA site. A fused
 * module (Phi-3's qkv_proj, gate_up_proj) is one site whose output rows are its parts' slices.
 */
export type Projection = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj' | 'qkv_proj' | 'gate_up_proj';

/** What a block of a linear module's output rows is in the computation. */
export type ProjectionRole = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

/** The sublayer that owns a module: `self_attn` or `mlp` in the checkpoint. */
export type Sublayer = 'self_attn' | 'mlp';

/** The ModelSpec flag that says whether a module has a bias. */
export type BiasFlag = 'qkvBias' | 'oBias' | 'mlpBias';

export interface LinearEntry {
  module: Projection;
  sublayer: Sublayer;
  /** Output row slices in order (one for an unfused module). */
  parts: readonly ProjectionRole[];
  /** Input width: the hidden size, the attention output (heads × head_dim) or the MLP's intermediate size. */
  input: 'hidden' | 'attention' | 'intermediate';
  /** The spec flag that gives it a bias (null: never). */
  bias: BiasFlag | null;
  /** llama.cpp's tensor name inside `blk.N.` */
  gguf: string;
}

/**
 * A norm of a decoder layer by what it does: `input` before attention, `pre_feedforward` before
 * the MLP, `post_attention` / `post_feedforward` on a sublayer's output before the residual add
 * (Gemma's sandwich norms), `q_norm` / `k_norm` per head before RoPE.
 */
export type LayerNormRole = 'input' | 'post_attention' | 'pre_feedforward' | 'post_feedforward' | 'q_norm' | 'k_norm';

export interface NormEntry {
  role: LayerNormRole;
  /** The module's path inside `model.layers.N.` (e.g. `post_attention_layernorm`, `self_attn.q_norm`). */
  hf: string;
  /** llama.cpp's tensor name inside `blk.N.` */
  gguf: string;
  width: 'hidden' | 'head_dim';
  /** Present only when the spec has per-head q/k norms (qkNorm). */
  whenQkNorm?: boolean;
}

/**
 * How an RMSNorm applies its weight: `w` (x·w, Llama/Qwen/Phi-3) or `one_plus_w` (x·(1 + w),
 * Gemma: the checkpoint stores w, GGUF stores 1 + w).
 */
export type NormWeight = 'w' | 'one_plus_w';

export interface ArchEntry {
  family: ModelFamily;
  /** config.json `architectures[0]`. */
  architecture: string;
  linears: readonly LinearEntry[];
  norms: readonly NormEntry[];
  normWeight: NormWeight;
  /** Embedding rows × sqrt(hidden_size) before the first layer (Gemma; not stored in the checkpoint). */
  scaleEmbeddings: boolean;
  /** llama.cpp's architecture name (before ggufArch's exceptions, src/export/gguf/arch.ts). */
  ggufArch: string;
  /** convert_hf_to_gguf.py's LlamaModel.permute of q/k rows (llama.cpp's llama RoPE layout). */
  ggufPermuteQk: boolean;
  /** transformers' config defaults where config.json omits the field. */
  defaults: {
    maxPositionEmbeddings: number;
    tieWordEmbeddings: boolean;
    /** head_dim when omitted: a number, or null for hidden_size / num_attention_heads. */
    headDim: number | null;
    ropeTheta: number;
    rmsNormEps: number;
  };
}
