// The frozen base model on the GPU. Every projection goes through linear.ts, the one place that
// knows how a weight is stored (f32 today; the quantized formats plug in there).
import type { Buf, Gpu } from '../../gpu/gpu';
import { PROJECTIONS, projectionModule, type HostTensor, type ModelSpec, type Projection } from './spec';

export interface LinearWeight {
  /** (out, in) f32. */
  weight: Buf;
  /** (out) or null. */
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
  /** (V, C) */
  embed: Buf;
  layers: LayerWeightsGpu[];
  /** (C) final norm. */
  norm: Buf;
  /** (V, C): the embedding itself when tied. */
  lmHead: Buf;
  buffers: GPUBuffer[];
}

export function uploadModelWeights(gpu: Gpu, spec: ModelSpec, weights: Map<string, HostTensor>): ModelWeightsGpu {
  const buffers: GPUBuffer[] = [];
  const get = (name: string): GPUBuffer => {
    const t = weights.get(name);
    if (!t) throw new Error(`model tensor ${name} is missing`);
    const b = gpu.upload(t.data, name);
    buffers.push(b);
    return b;
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
      proj[name] = { weight: get(`${base}.weight`), bias: maybe(`${base}.bias`, hasBias) };
    }
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`),
      postNorm: get(`${p}.post_attention_layernorm.weight`),
      qNorm: maybe(`${p}.self_attn.q_norm.weight`, spec.qkNorm),
      kNorm: maybe(`${p}.self_attn.k_norm.weight`, spec.qkNorm),
      proj,
    });
  }
  const embed = get('model.embed_tokens.weight');
  const lmHead = spec.tieWordEmbeddings ? embed : get('lm_head.weight');
  return { embed, layers, norm: get('model.norm.weight'), lmHead, buffers };
}
