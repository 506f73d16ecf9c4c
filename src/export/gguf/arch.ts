// What llama.cpp calls a model (gguf-py constants, convert_hf_to_gguf.py): the architecture,
// every hyperparameter key, the q/k row permutation of the llama architecture, and llama3's
// `rope_freqs` values. Tensor names come from the architecture table (engine/model/arch).

import type { ModelSpec, Projection } from '../../engine/model/spec';
import { archOf, refuseUnsupported, type ArchFeature } from '../../engine/model/arch';
import { GgufExportError } from './errors';
import type { Kv } from './writer';

export type GgufArch = 'llama' | 'qwen2' | 'qwen3';

/**
 * The features of the table (arch/features.ts) this exporter writes as llama.cpp computes them;
 * a model with any other is refused naming it. Not here: sliding_window (llama.cpp's llama
 * architecture attends to the whole context, so a Mistral window narrower than
 * max_position_embeddings is refused, as everywhere the window is not computed).
 */
export const GGUF_FEATURES: readonly ArchFeature[] = ['qk_norm'];

/**
 * llama.cpp's architecture for a model (Mistral is llama there, and so is a Qwen2 whose head_dim ×
 * heads is not hidden_size), or a refusal naming what GGUF cannot say.
 */
export function ggufArch(spec: ModelSpec): GgufArch {
  refuseUnsupported(spec, 'the GGUF exporter', GGUF_FEATURES, (msg) => new GgufExportError(`config.json: ${msg}`));
  const named = archOf(spec).ggufArch;
  if (named !== 'llama' && named !== 'qwen2' && named !== 'qwen3') throw new GgufExportError(`config.json: ${spec.architecture}: the GGUF exporter does not write llama.cpp's ${named} architecture yet`);
  let arch: GgufArch = named;
  // llama.cpp's qwen2 sizes its q and output projections as n_embd × n_embd, so a Qwen2 config with
  // another head_dim fails to load there. Its llama graph is the same computation (optional q/k/v
  // biases, any head_dim), the q/k row permutation standing in for Qwen2's NEOX RoPE.
  if (arch === 'qwen2' && spec.headDim * spec.numHeads !== spec.hiddenSize) arch = 'llama';
  const fail = (msg: string): never => {
    throw new GgufExportError(`config.json: ${msg}`);
  };
  if (arch === 'qwen2' || arch === 'qwen3') {
    // llama.cpp's qwen2/qwen3 graphs load no o_proj or MLP biases (an extra tensor fails the load).
    if (spec.oBias) fail(`${spec.architecture} with attention_bias on o_proj has no llama.cpp equivalent`);
    if (spec.mlpBias) fail(`${spec.architecture} with MLP biases has no llama.cpp equivalent`);
    if (spec.rope.type === 'llama3') fail(`rope type "llama3" on ${spec.architecture}: llama.cpp reads rope_freqs for the llama architecture only`);
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
    [k('rope.dimension_count')]: { type: 'u32', value: spec.headDim },
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
  }
  // 'dynamic' (dynamic NTK) equals the default frequencies within max_position_embeddings, the
  // context length written; llama3 is the rope_freqs tensor (ropeFreqs).
  return kv;
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
