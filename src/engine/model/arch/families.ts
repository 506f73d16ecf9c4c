// THE architecture table: per family, every tensor of a decoder layer by role, with its Hugging
// Face name, shape rule (input width, output parts), bias rule, PEFT module name (= the HF module
// name), llama.cpp (GGUF) name and value transform, fused parts, and transformers' config
// defaults. Everything else that names a checkpoint or GGUF tensor derives from it (tensors.ts,
// gguf-names.ts, features.ts), the way gguf-py's per-architecture tensor maps work.
import type { ArchEntry, LinearEntry, ModelFamily, NormEntry } from './types';

/** The unfused attention and MLP linears (Llama, Mistral, Qwen, Gemma). */
const Q: LinearEntry = { module: 'q_proj', sublayer: 'self_attn', parts: ['q'], input: 'hidden', bias: 'qkvBias', gguf: 'attn_q' };
const K: LinearEntry = { module: 'k_proj', sublayer: 'self_attn', parts: ['k'], input: 'hidden', bias: 'qkvBias', gguf: 'attn_k' };
const V: LinearEntry = { module: 'v_proj', sublayer: 'self_attn', parts: ['v'], input: 'hidden', bias: 'qkvBias', gguf: 'attn_v' };
const O: LinearEntry = { module: 'o_proj', sublayer: 'self_attn', parts: ['o'], input: 'attention', bias: 'oBias', gguf: 'attn_output' };
const GATE: LinearEntry = { module: 'gate_proj', sublayer: 'mlp', parts: ['gate'], input: 'hidden', bias: 'mlpBias', gguf: 'ffn_gate' };
const UP: LinearEntry = { module: 'up_proj', sublayer: 'mlp', parts: ['up'], input: 'hidden', bias: 'mlpBias', gguf: 'ffn_up' };
const DOWN: LinearEntry = { module: 'down_proj', sublayer: 'mlp', parts: ['down'], input: 'intermediate', bias: 'mlpBias', gguf: 'ffn_down' };
const SEPARATE = [Q, K, V, O, GATE, UP, DOWN] as const;

/** Phi-3: q|k|v rows in one module, gate|up rows in another (llama.cpp: attn_qkv, and ffn_up holding both). */
const QKV: LinearEntry = { module: 'qkv_proj', sublayer: 'self_attn', parts: ['q', 'k', 'v'], input: 'hidden', bias: null, gguf: 'attn_qkv' };
const GATE_UP: LinearEntry = { module: 'gate_up_proj', sublayer: 'mlp', parts: ['gate', 'up'], input: 'hidden', bias: null, gguf: 'ffn_up' };
const PHI3_LINEARS = [QKV, { ...O, bias: null }, GATE_UP, { ...DOWN, bias: null }] as const;

const INPUT: NormEntry = { role: 'input', hf: 'input_layernorm', gguf: 'attn_norm', width: 'hidden' };
/** Llama's post_attention_layernorm is the norm before the MLP (llama.cpp: ffn_norm). */
const PRE_FFN_LLAMA: NormEntry = { role: 'pre_feedforward', hf: 'post_attention_layernorm', gguf: 'ffn_norm', width: 'hidden' };
const Q_NORM: NormEntry = { role: 'q_norm', hf: 'self_attn.q_norm', gguf: 'attn_q_norm', width: 'head_dim', whenQkNorm: true };
const K_NORM: NormEntry = { role: 'k_norm', hf: 'self_attn.k_norm', gguf: 'attn_k_norm', width: 'head_dim', whenQkNorm: true };
/** Gemma's four norms: post_attention_layernorm normalizes the attention output (llama.cpp: post_attention_norm). */
const GEMMA_NORMS: readonly NormEntry[] = [
  INPUT,
  { role: 'post_attention', hf: 'post_attention_layernorm', gguf: 'post_attention_norm', width: 'hidden' },
  { role: 'pre_feedforward', hf: 'pre_feedforward_layernorm', gguf: 'ffn_norm', width: 'hidden' },
  { role: 'post_feedforward', hf: 'post_feedforward_layernorm', gguf: 'post_ffw_norm', width: 'hidden' },
];

const LLAMA_DEFAULTS = { maxPositionEmbeddings: 2048, tieWordEmbeddings: false, headDim: null, ropeTheta: 10000, rmsNormEps: 1e-6 };

/** A family with Llama's layer (separate projections, two norms, x·w norms), changed by `o`. */
const llamaLike = (family: ModelFamily, architecture: string, o: Partial<ArchEntry>): ArchEntry => ({
  family,
  architecture,
  linears: SEPARATE,
  norms: [INPUT, PRE_FFN_LLAMA],
  normWeight: 'w',
  scaleEmbeddings: false,
  ggufArch: family,
  ggufPermuteQk: false,
  defaults: LLAMA_DEFAULTS,
  ...o,
});

/** Gemma's layer: four norms (q/k norms on Gemma 3), x·(1 + w) norms, embeddings × sqrt(hidden). */
const gemmaLike = (family: ModelFamily, architecture: string, o: Partial<ArchEntry>): ArchEntry =>
  llamaLike(family, architecture, { norms: GEMMA_NORMS, normWeight: 'one_plus_w', scaleEmbeddings: true, ...o });

export const ARCH_TABLE: Readonly<Record<ModelFamily, ArchEntry>> = {
  llama: llamaLike('llama', 'LlamaForCausalLM', { ggufPermuteQk: true }),
  mistral: llamaLike('mistral', 'MistralForCausalLM', { ggufArch: 'llama', ggufPermuteQk: true, defaults: { ...LLAMA_DEFAULTS, maxPositionEmbeddings: 4096 * 32 } }),
  qwen2: llamaLike('qwen2', 'Qwen2ForCausalLM', { defaults: { ...LLAMA_DEFAULTS, maxPositionEmbeddings: 32768 } }),
  qwen3: llamaLike('qwen3', 'Qwen3ForCausalLM', { norms: [INPUT, Q_NORM, K_NORM, PRE_FFN_LLAMA], defaults: { ...LLAMA_DEFAULTS, maxPositionEmbeddings: 32768, headDim: 128 } }),
  gemma3_text: gemmaLike('gemma3_text', 'Gemma3ForCausalLM', {
    norms: [...GEMMA_NORMS, Q_NORM, K_NORM],
    ggufArch: 'gemma3',
    defaults: { maxPositionEmbeddings: 131072, tieWordEmbeddings: true, headDim: 256, ropeTheta: 1_000_000, rmsNormEps: 1e-6 },
  }),
  gemma2: gemmaLike('gemma2', 'Gemma2ForCausalLM', {
    ggufArch: 'gemma2',
    defaults: { maxPositionEmbeddings: 8192, tieWordEmbeddings: true, headDim: 256, ropeTheta: 10000, rmsNormEps: 1e-6 },
  }),
  phi3: llamaLike('phi3', 'Phi3ForCausalLM', {
    linears: PHI3_LINEARS,
    defaults: { maxPositionEmbeddings: 4096, tieWordEmbeddings: false, headDim: null, ropeTheta: 10000, rmsNormEps: 1e-5 },
  }),
};

/** The tensors outside the layers: HF name and llama.cpp name (same in every family). */
export const MODEL_TENSORS = {
  embed: { hf: 'model.embed_tokens.weight', gguf: 'token_embd.weight' },
  finalNorm: { hf: 'model.norm.weight', gguf: 'output_norm.weight' },
  lmHead: { hf: 'lm_head.weight', gguf: 'output.weight' },
} as const;

/** Where the decoder layers live (every family): `model.layers.N.` in the checkpoint, `blk.N.` in GGUF. */
export const LAYER_PREFIX = { hf: 'model.layers', gguf: 'blk' } as const;

/** PEFT's prefix of a LoRA module's saved key (PeftModel → base_model.model → the CausalLM). */
export const PEFT_PREFIX = 'base_model.model.';

/** Supported architectures (config.json `architectures[0]`) and their model_type, from the table. */
export const SUPPORTED_ARCHITECTURES: Readonly<Record<string, ModelFamily>> = Object.fromEntries(
  Object.values(ARCH_TABLE).map((e) => [e.architecture, e.family]),
);

/**
 * Checkpoints of these families' relatives that the engine refuses, with what to use instead
 * (config.json `architectures[0]` or `model_type`).
 */
export const REFUSED_ARCHITECTURES: Readonly<Record<string, string>> = {
  Gemma3ForConditionalGeneration:
    'the multimodal Gemma 3 checkpoints (4B and larger, model_type "gemma3") are not supported: use a text-only Gemma3ForCausalLM checkpoint (model_type "gemma3_text", e.g. gemma-3-270m or gemma-3-1b)',
  gemma3: 'model_type "gemma3" is the multimodal Gemma 3 (Gemma3ForConditionalGeneration): use a text-only Gemma3ForCausalLM checkpoint (model_type "gemma3_text")',
  Gemma3nForConditionalGeneration: 'Gemma 3n (per-layer embeddings, AltUp, LAuReL) is not supported: use Gemma 3 (Gemma3ForCausalLM)',
  Gemma3nForCausalLM: 'Gemma 3n (per-layer embeddings, AltUp, LAuReL) is not supported: use Gemma 3 (Gemma3ForCausalLM)',
  gemma3n: 'Gemma 3n is not supported: use Gemma 3 (Gemma3ForCausalLM, model_type "gemma3_text")',
  gemma3n_text: 'Gemma 3n is not supported: use Gemma 3 (Gemma3ForCausalLM, model_type "gemma3_text")',
  Phi3SmallForCausalLM: 'Phi-3-small (blocksparse attention, GEGELU, muP) is not supported: use Phi-3-mini, Phi-3-medium or Phi-4-mini (Phi3ForCausalLM)',
  phi3small: 'Phi-3-small is not supported: use Phi-3-mini, Phi-3-medium or Phi-4-mini (Phi3ForCausalLM)',
  GemmaForCausalLM: 'Gemma 1 is not supported: use Gemma 2 (Gemma2ForCausalLM) or Gemma 3 (Gemma3ForCausalLM)',
};
