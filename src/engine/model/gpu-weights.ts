// The frozen base model on the GPU. Every projection goes through linear.ts, the one place that
// knows how a weight is stored (f32 today; the quantized formats plug in there).
import type { Buf, Gpu } from '../../gpu/gpu';
import { destroyQuantWeight, uploadQuantWeight, type QuantWeightBuffers } from '../kernels/matmul-q';
import { quantize, type QuantKind, type QuantizedTensor } from '../../quant/format';
import { PROJECTIONS, projectionModule, type HostTensor, type ModelSpec, type Projection } from './spec';

/** How the frozen matrices (projections, embedding, LM head) are stored on the GPU. */
export type BaseQuant = 'none' | QuantKind;

/** A base-model tensor on the host: f32, or a matrix already block-quantized (the model library). */
export type BaseTensor = HostTensor | QuantizedTensor;

export function isHostQuantized(t: BaseTensor): t is QuantizedTensor {
  return (t as QuantizedTensor).qweight !== undefined;
}

/** A (rows, cols) matrix: f32, or block-quantized (src/quant/format.ts). */
export type MatrixWeight = Buf | QuantWeightBuffers;

export function isQuantized(w: MatrixWeight): w is QuantWeightBuffers {
  return (w as QuantWeightBuffers).kind !== undefined && (w as QuantWeightBuffers).scales !== undefined;
}

export interface LinearWeight {
  /** (out, in). */
  weight: MatrixWeight;
  /** (out) f32 or null. */
  bias: Buf | null;
}

export interface LayerWeightsGpu {
  inputNorm: Buf;
  postNorm: Buf;
  /** (head_dim) Qwen3 per-head norms, else null. */
  qNorm: Buf | null;
  kNorm: Buf | null;
  proj: Record<Projection, LinearWeight>;
}

export interface ModelWeightsGpu {
  quant: BaseQuant;
  /** (V, C) */
  embed: MatrixWeight;
  layers: LayerWeightsGpu[];
  /** (C) final norm. */
  norm: Buf;
  /** (V, C): the embedding itself when tied. */
  lmHead: MatrixWeight;
  buffers: GPUBuffer[];
  quantized: QuantWeightBuffers[];
}

/**
 * Uploads the base model. With quant int8/int4 every matrix (projections, embedding, LM head) is
 * block-quantized on the host first; a matrix that arrives already quantized (a library model) is
 * uploaded as it is, whatever `quant` says. Norms and biases stay f32.
 */
export function uploadModelWeights(gpu: Gpu, spec: ModelSpec, weights: Map<string, BaseTensor>, quant: BaseQuant = 'none'): ModelWeightsGpu {
  const buffers: GPUBuffer[] = [];
  const quantized: QuantWeightBuffers[] = [];
  const tensor = (name: string): BaseTensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`model tensor ${name} is missing`);
    return t;
  };
  const get = (name: string): GPUBuffer => {
    const t = tensor(name);
    if (isHostQuantized(t)) throw new Error(`model tensor ${name} is quantized, but only matrices may be`);
    const b = gpu.upload(t.data, name);
    buffers.push(b);
    return b;
  };
  const matrix = (name: string): MatrixWeight => {
    const t = tensor(name);
    if (!isHostQuantized(t) && quant === 'none') return get(name);
    const qt = isHostQuantized(t) ? t : quantize(t.data, t.shape[0], t.shape[1], quant as QuantKind);
    const q = uploadQuantWeight(gpu, qt, name);
    quantized.push(q);
    return q;
  };
  const maybe = (name: string, present: boolean): GPUBuffer | null => (present ? get(name) : null);
  const layers: LayerWeightsGpu[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    const proj = {} as Record<Projection, LinearWeight>;
    for (const name of PROJECTIONS) {
      const base = `${p}.${projectionModule(name)}.${name}`;
      const hasBias =
        name === 'o_proj' ? spec.oBias : projectionModule(name) === 'mlp' ? spec.mlpBias : spec.qkvBias;
      proj[name] = { weight: matrix(`${base}.weight`), bias: maybe(`${base}.bias`, hasBias) };
    }
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      qNorm: maybe(`${p}.self_attn.q_norm.weight`, spec.qkNorm),
      kNorm: maybe(`${p}.self_attn.k_norm.weight`, spec.qkNorm),
      proj,
    });
  }
  const embed = matrix('model.embed_tokens.weight');
  const lmHead = spec.tieWordEmbeddings ? embed : matrix('lm_head.weight');
  return { quant, embed, layers, norm: get('model.norm.weight'), lmHead, buffers, quantized };
}

export function destroyModelWeights(gpu: Gpu, w: ModelWeightsGpu): void {
  for (const b of w.buffers) gpu.destroyBuffer(b);
  for (const q of w.quantized) destroyQuantWeight(gpu, q);
}
