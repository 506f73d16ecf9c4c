// llama.cpp's (GGUF) names of the checkpoint's tensors, from the architecture table: each
// Hugging Face tensor's GGUF name and value transform, the LoRA tensors of the adapter GGUF, and
// llama3's rope_freqs tensor and Phi-3's LongRoPE factors.
import type { ModelSpec } from '../spec';
import { LAYER_PREFIX, MODEL_TENSORS } from './families';
import { archOf, expectedWeightShapes, layerNorms, projectionWeightName, projectionsOf, linearOf } from './tensors';
import type { Projection } from './types';

/**
 * `none`, or `plus_one`: GGUF stores 1 + w where transformers computes x·(1 + w) (Gemma's norms,
 * as convert_hf_to_gguf.py writes them and llama.cpp multiplies by the stored value).
 */
export type GgufValueTransform = 'none' | 'plus_one';

export interface GgufTensorName {
  gguf: string;
  transform: GgufValueTransform;
  /** The layer and module of a projection's weight or bias (q/k rows may be permuted, LoRA merged). */
  projection: { layer: number; proj: Projection; kind: 'weight' | 'bias' } | null;
}

/** llama3's per-frequency RoPE factors tensor. */
export const GGUF_ROPE_FREQS = 'rope_freqs.weight';

/** Phi-3's LongRoPE per-frequency divisors (llama.cpp's phi3: picked by the context length). */
export const GGUF_ROPE_FACTORS = { short: 'rope_factors_short.weight', long: 'rope_factors_long.weight' } as const;

/** Every tensor of expectedWeightShapes(spec) → its GGUF name, value transform and projection. */
export function ggufTensorNames(spec: ModelSpec): Map<string, GgufTensorName> {
  const out = new Map<string, GgufTensorName>();
  const normTransform: GgufValueTransform = archOf(spec).normWeight === 'one_plus_w' ? 'plus_one' : 'none';
  out.set(MODEL_TENSORS.embed.hf, { gguf: MODEL_TENSORS.embed.gguf, transform: 'none', projection: null });
  out.set(MODEL_TENSORS.finalNorm.hf, { gguf: MODEL_TENSORS.finalNorm.gguf, transform: normTransform, projection: null });
  out.set(MODEL_TENSORS.lmHead.hf, { gguf: MODEL_TENSORS.lmHead.gguf, transform: 'none', projection: null });
  for (let layer = 0; layer < spec.numLayers; layer++) {
    for (const n of layerNorms(spec)) {
      out.set(`${LAYER_PREFIX.hf}.${layer}.${n.hf}.weight`, { gguf: `${LAYER_PREFIX.gguf}.${layer}.${n.gguf}.weight`, transform: normTransform, projection: null });
    }
    for (const proj of projectionsOf(spec)) {
      for (const kind of ['weight', 'bias'] as const) {
        out.set(projectionWeightName(layer, proj, kind), { gguf: projectionGgufName(spec, layer, proj, kind), transform: 'none', projection: { layer, proj, kind } });
      }
    }
  }
  const expected = expectedWeightShapes(spec);
  for (const k of [...out.keys()]) if (!expected.has(k)) out.delete(k);
  return out;
}

/** The GGUF name of a module's weight (or bias), e.g. blk.3.attn_q.weight; the adapter GGUF appends .lora_a / .lora_b. */
export function projectionGgufName(spec: ModelSpec, layer: number, proj: Projection, kind: 'weight' | 'bias' = 'weight'): string {
  return `${LAYER_PREFIX.gguf}.${layer}.${linearOf(spec, proj).gguf}.${kind}`;
}

/** The adapter GGUF's names of a LoRA pair (convert_lora_to_gguf.py). */
export function loraGgufNames(spec: ModelSpec, layer: number, proj: Projection): { a: string; b: string } {
  const base = projectionGgufName(spec, layer, proj);
  return { a: `${base}.lora_a`, b: `${base}.lora_b` };
}
