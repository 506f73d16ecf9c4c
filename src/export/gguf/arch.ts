// What llama.cpp calls a model (gguf-py constants, convert_hf_to_gguf.py): the architecture,
// every hyperparameter key, the q/k row permutation of the llama architecture, and llama3's
// `rope_freqs` values. Tensor names come from the architecture table (engine/model/arch).

import type { ModelSpec, Projection } from '../../engine/model/spec';
import { archOf, attentionScale, isSlidingLayer, refuseUnsupported, rotaryDim, slidingWindowOf, type ArchFeature } from '../../engine/model/arch';
import { GgufExportError } from './errors';
import type { Kv } from './writer';

export type GgufArch = 'llama' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3';

/**
 * The features of the table (arch/features.ts) each llama.cpp architecture computes as
 * transformers does, as this exporter writes them; a model with any other is refused naming it.
 * Not in llama / qwen / phi3: sliding_window (llama.cpp's llama architecture attends to the whole
 * context, and its phi3 disables the window), so a window narrower than max_position_embeddings is
 * refused there, as everywhere the window is not computed. Gemma 2 / 3 compute it (llama.cpp's
 * iSWA: query t sees keys t-W+1..t on the layers attention.sliding_window_pattern marks).
 */
const GEMMA_FEATURES: readonly ArchFeature[] = ['sliding_window', 'norm_one_plus_w', 'sandwich_norms', 'gelu_tanh', 'embed_scale', 'query_pre_attn_scalar', 'final_logit_softcapping', 'local_rope'];
export const GGUF_FEATURES: Readonly<Record<GgufArch, readonly ArchFeature[]>> = {
  llama: ['qk_norm'],
  qwen2: [],
  qwen3: ['qk_norm'],
  gemma2: [...GEMMA_FEATURES, 'attn_logit_softcapping'],
  // llama.cpp's gemma3 has no attention soft-capping (Gemma 3 has none).
  gemma3: [...GEMMA_FEATURES, 'qk_norm'],
  phi3: ['fused_qkv', 'fused_gate_up', 'partial_rotary', 'longrope'],
};

/**
 * The attention scale llama.cpp's gemma2 / gemma3 use (llama-model.cpp, from gemma_pytorch): 1 /
 * sqrt(n_embd / n_head) for the 27B models (recognised by their layer count: 46, 62), else 1 /
 * sqrt(head_dim). transformers uses query_pre_attn_scalar^-0.5; a model where they differ is refused.
 */
function llamaCppGemmaScale(spec: ModelSpec, arch: 'gemma2' | 'gemma3'): number {
  const is27b = spec.numLayers === (arch === 'gemma2' ? 46 : 62);
  return 1 / Math.sqrt(is27b ? Math.floor(spec.hiddenSize / spec.numHeads) : spec.headDim);
}

/**
 * llama.cpp's architecture for a model (Mistral is llama there, and so is a Qwen2 whose head_dim ×
 * heads is not hidden_size), or a refusal naming what GGUF cannot say.
 */
export function ggufArch(spec: ModelSpec): GgufArch {
  const named = archOf(spec).ggufArch;
  if (!(named in GGUF_FEATURES)) throw new GgufExportError(`config.json: ${spec.architecture}: the GGUF exporter does not write llama.cpp's ${named} architecture yet`);
  let arch = named as GgufArch;
  // llama.cpp's qwen2 sizes its q and output projections as n_embd × n_embd, so a Qwen2 config with
  // another head_dim fails to load there. Its llama graph is the same computation (optional q/k/v
  // biases, any head_dim), the q/k row permutation standing in for Qwen2's NEOX RoPE.
  if (arch === 'qwen2' && spec.headDim * spec.numHeads !== spec.hiddenSize) arch = 'llama';
  refuseUnsupported(spec, `the GGUF exporter (llama.cpp's ${arch})`, GGUF_FEATURES[arch], (msg) => new GgufExportError(`config.json: ${msg}`));
  const fail = (msg: string): never => {
    throw new GgufExportError(`config.json: ${msg}`);
  };
  if (arch === 'qwen2' || arch === 'qwen3') {
    // llama.cpp's qwen2/qwen3 graphs load no o_proj or MLP biases (an extra tensor fails the load).
    if (spec.oBias) fail(`${spec.architecture} with attention_bias on o_proj has no llama.cpp equivalent`);
    if (spec.mlpBias) fail(`${spec.architecture} with MLP biases has no llama.cpp equivalent`);
  }
  if (arch !== 'llama' && spec.rope.type === 'llama3') fail(`rope type "llama3" on ${spec.architecture}: llama.cpp reads rope_freqs for the llama architecture only`);
  if (arch === 'gemma2' || arch === 'gemma3') {
    const want = attentionScale(spec);
    if (Math.abs(llamaCppGemmaScale(spec, arch) - want) > 1e-7 * want) {
      fail(`query_pre_attn_scalar ${spec.queryPreAttnScalar ?? spec.headDim}: llama.cpp's ${arch} scales attention by 1/sqrt(${arch === 'gemma2' ? 'head_dim' : 'head_dim'}) (or 1/sqrt(hidden/heads) for the 27B), not by query_pre_attn_scalar^-0.5`);
    }
    // llama.cpp's gemma2 always ties the LM head to the embedding, and always soft-caps (absent keys: 50 and 30).
    if (arch === 'gemma2' && !spec.tieWordEmbeddings) fail(`tie_word_embeddings false: llama.cpp's gemma2 always uses the embedding as the LM head`);
    if (arch === 'gemma2' && !spec.attnLogitSoftcapping) fail(`attn_logit_softcapping null: llama.cpp's gemma2 always soft-caps the attention scores (50 when unset)`);
    if (arch === 'gemma2' && !spec.finalLogitSoftcapping) fail(`final_logit_softcapping null: llama.cpp's gemma2 always soft-caps the logits (30 when unset)`);
    if (spec.rope.type !== 'default' && spec.rope.type !== 'linear') fail(`rope type "${spec.rope.type}" on ${spec.architecture}: llama.cpp's ${arch} reads linear scaling only`);
    if (spec.ropeLocal && spec.ropeLocal.type !== 'default') fail(`rope type "${spec.ropeLocal.type}" on the sliding layers: llama.cpp scales only the full-attention layers' RoPE`);
  }
  if (arch === 'phi3') {
    // llama.cpp's phi3 sizes its q and output projections as n_embd × n_embd.
    if (spec.headDim * spec.numHeads !== spec.hiddenSize) fail(`head_dim ${spec.headDim} × ${spec.numHeads} heads ≠ hidden_size ${spec.hiddenSize}: llama.cpp's phi3 needs them equal`);
    if (spec.rope.type !== 'default' && spec.rope.type !== 'longrope') fail(`rope type "${spec.rope.type}" on ${spec.architecture}: llama.cpp's phi3 reads LongRoPE factors only`);
  }
  if (spec.rope.type === 'yarn') {
    const y = spec.rope.yarn!;
    // llama.cpp's llama/qwen loaders use beta_fast 32, beta_slow 1 and the rounded (truncated) range.
    if (y.betaFast !== 32 || y.betaSlow !== 1) fail(`yarn beta_fast ${y.betaFast} / beta_slow ${y.betaSlow}: llama.cpp uses 32 / 1 for ${arch}`);
    if (!y.truncate) fail('yarn truncate false: llama.cpp always rounds the correction range');
  }
  return arch;
}

/** The `{arch}.*` hyperparameters (llama.cpp's LLM_KV names). */
export function hyperparameters(spec: ModelSpec, arch: GgufArch): Kv {
  const k = (s: string): string => `${arch}.${s}`;
  const kv: Kv = {
    [k('context_length')]: { type: 'u32', value: spec.maxPositionEmbeddings },
    [k('embedding_length')]: { type: 'u32', value: spec.hiddenSize },
    [k('block_count')]: { type: 'u32', value: spec.numLayers },
    [k('feed_forward_length')]: { type: 'u32', value: spec.intermediateSize },
    [k('attention.head_count')]: { type: 'u32', value: spec.numHeads },
    [k('attention.head_count_kv')]: { type: 'u32', value: spec.numKvHeads },
    [k('attention.key_length')]: { type: 'u32', value: spec.headDim },
    [k('attention.value_length')]: { type: 'u32', value: spec.headDim },
    [k('attention.layer_norm_rms_epsilon')]: { type: 'f32', value: spec.rmsNormEps },
    [k('rope.dimension_count')]: { type: 'u32', value: rotaryDim(spec) },
    [k('rope.freq_base')]: { type: 'f32', value: spec.rope.theta },
    [k('vocab_size')]: { type: 'u32', value: spec.vocabSize },
  };
  const r = spec.rope;
  if (r.type === 'linear') {
    kv[k('rope.scaling.type')] = { type: 'string', value: 'linear' };
    kv[k('rope.scaling.factor')] = { type: 'f32', value: r.factor };
  } else if (r.type === 'yarn') {
    kv[k('rope.scaling.type')] = { type: 'string', value: 'yarn' };
    kv[k('rope.scaling.factor')] = { type: 'f32', value: r.factor };
    kv[k('rope.scaling.original_context_length')] = { type: 'u32', value: r.originalMaxPositionEmbeddings };
    // llama.cpp multiplies cos/sin by (1 + 0.1 ln factor) times rope.scaling.attn_factor
    // (llama-context.cpp); transformers by attention_factor. Say the ratio when they differ.
    const implied = r.factor <= 1 ? 1 : 1 + 0.1 * Math.log(r.factor);
    const af = r.attentionFactor ?? implied;
    if (Math.abs(af - implied) > 1e-7) kv[k('rope.scaling.attn_factor')] = { type: 'f32', value: af / implied };
  } else if (r.type === 'longrope') {
    // The short / long factors are two tensors (GGUF_ROPE_FACTORS, longropeFactorTensors);
    // llama.cpp picks the long ones when its context (n_ctx, padded to a multiple of 256) passes
    // original_context_length, transformers when the sequence does: they agree while both are
    // within it (Phi-4-mini: 4096) or both past it.
    kv[k('rope.scaling.original_context_length')] = { type: 'u32', value: r.originalMaxPositionEmbeddings };
    kv[k('rope.scaling.attn_factor')] = { type: 'f32', value: r.attentionFactor ?? 1 };
  }
  // 'dynamic' (dynamic NTK) equals the default frequencies within max_position_embeddings, the
  // context length written; llama3 is the rope_freqs tensor (ropeFreqs).
  if (arch === 'gemma2' || arch === 'gemma3') Object.assign(kv, gemmaHyperparameters(spec, arch));
  if (arch === 'phi3') kv[k('attention.sliding_window')] = { type: 'u32', value: 0 }; // convert_hf_to_gguf.py: 0 = no window
  return kv;
}

/**
 * Gemma's window, its layers, the sliding layers' RoPE base and the soft-capping values
 * (convert_hf_to_gguf.py's Gemma2Model / Gemma3Model keys). The sliding layers are written as the
 * period N (every N-th layer full, what older llama.cpp reads) when they follow it, else per layer.
 */
function gemmaHyperparameters(spec: ModelSpec, arch: 'gemma2' | 'gemma3'): Kv {
  const k = (s: string): string => `${arch}.${s}`;
  const kv: Kv = {};
  const window = slidingWindowOf(spec);
  const sliding = Array.from({ length: spec.numLayers }, (_, l) => isSlidingLayer(spec, l));
  if (window === null) {
    // No layer narrower than the context: gemma3 reads "no window"; gemma2 always has one, so give it the context.
    if (arch === 'gemma3') kv[k('attention.sliding_window')] = { type: 'u32', value: 0 };
    else kv[k('attention.sliding_window')] = { type: 'u32', value: spec.maxPositionEmbeddings };
  } else {
    kv[k('attention.sliding_window')] = { type: 'u32', value: window };
  }
  const period = [2, 3, 4, 5, 6, 7, 8].find((n) => sliding.every((s, l) => s === l % n < n - 1));
  if (period !== undefined) kv[k('attention.sliding_window_pattern')] = { type: 'u32', value: period };
  else kv[k('attention.sliding_window_pattern')] = { type: 'i32[]', value: sliding.map((s) => (s ? 1 : 0)) };
  if (spec.ropeLocal) kv[k('rope.freq_base_swa')] = { type: 'f32', value: spec.ropeLocal.theta };
  else kv[k('rope.freq_base_swa')] = { type: 'f32', value: spec.rope.theta };
  if (spec.attnLogitSoftcapping) kv[k('attn_logit_softcapping')] = { type: 'f32', value: spec.attnLogitSoftcapping };
  if (spec.finalLogitSoftcapping) kv[k('final_logit_softcapping')] = { type: 'f32', value: spec.finalLogitSoftcapping };
  return kv;
}

/** Phi-3's LongRoPE factors as llama.cpp's short / long factor tensors (GGUF_ROPE_FACTORS; one per rotated frequency), or null. */
export function longropeFactorTensors(spec: ModelSpec): { short: Float32Array; long: Float32Array } | null {
  const lr = spec.rope.type === 'longrope' ? spec.rope.longrope : undefined;
  return lr ? { short: Float32Array.from(lr.shortFactor), long: Float32Array.from(lr.longFactor) } : null;
}

/** convert_hf_to_gguf.py's llama3 rope factors (one per frequency), or null for other RoPE types. */
export function ropeFreqs(spec: ModelSpec): Float32Array | null {
  const r = spec.rope;
  if (r.type !== 'llama3') return null;
  const dim = spec.headDim;
  const out = new Float32Array(dim / 2);
  const lowWavelen = r.originalMaxPositionEmbeddings / r.lowFreqFactor;
  const highWavelen = r.originalMaxPositionEmbeddings / r.highFreqFactor;
  for (let i = 0; i < dim / 2; i++) {
    // torch: 1 / base ** (arange(0, dim, 2, float32) / dim), in f32
    const freq = Math.fround(1 / Math.fround(r.theta ** Math.fround((2 * i) / dim)));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = r.factor;
    else {
      const smooth = (r.originalMaxPositionEmbeddings / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / r.factor + smooth);
    }
  }
  return out;
}

/**
 * The heads a q or k row block is permuted by for the llama architecture, or 0 for none.
 * convert_hf_to_gguf.py's LlamaModel.permute turns HF's rotate-half RoPE layout into llama.cpp's
 * interleaved pairs; qwen2/qwen3 use NEOX RoPE in llama.cpp and are not permuted.
 */
export function permuteHeads(spec: ModelSpec, arch: GgufArch, proj: Projection): number {
  if (arch !== 'llama') return 0;
  if (proj === 'q_proj') return spec.numHeads;
  if (proj === 'k_proj') return spec.numKvHeads;
  return 0;
}

/**
 * Rows of a (rows, cols) row-major matrix (cols = 1 for a bias) reordered as LlamaModel.permute:
 * reshape(heads, 2, rows/heads/2, cols).swapaxes(1, 2): new row h*hd + 2i + j = old row h*hd + j*hd/2 + i.
 */
export function permuteRows<T extends Float32Array | Uint32Array>(data: T, rows: number, cols: number, heads: number): T {
  const hd = rows / heads;
  const half = hd / 2;
  const out = data.slice() as T; // same type; every row is overwritten below
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const dst = (h * hd + 2 * i + j) * cols;
        const src = (h * hd + j * half + i) * cols;
        out.set(data.subarray(src, src + cols) as never, dst);
      }
    }
  }
  return out;
}
