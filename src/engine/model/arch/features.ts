// What a spec asks of whoever computes it, as named features, and the one rule by which the
// engine and each exporter accept or refuse them: a consumer lists the features it computes
// exactly; any other feature of the spec is refused naming it and the config field it comes from.
// The sliding window has one policy: a consumer that does not compute the window may only run
// contexts that fit in it (where full causal attention is the same computation), and refuses
// longer ones by name (attentionContextLimit).
import type { ModelSpec, RopeConfig } from '../spec';
import { archOf } from './tensors';

export type ArchFeature =
  | 'qk_norm'
  | 'sliding_window'
  | 'norm_one_plus_w'
  | 'sandwich_norms'
  | 'gelu_tanh'
  | 'embed_scale'
  | 'query_pre_attn_scalar'
  | 'attn_logit_softcapping'
  | 'final_logit_softcapping'
  | 'local_rope'
  | 'fused_qkv'
  | 'fused_gate_up'
  | 'partial_rotary'
  | 'longrope';

/** Where each feature comes from: the config field or family trait a refusal names. */
export const FEATURE_SOURCE: Readonly<Record<ArchFeature, string>> = {
  qk_norm: 'per-head q_norm / k_norm',
  sliding_window: 'sliding_window (sliding-window attention)',
  norm_one_plus_w: "Gemma's RMSNorm x·(1 + w)",
  sandwich_norms: "Gemma's post_attention / pre_feedforward / post_feedforward norms",
  gelu_tanh: 'hidden_activation gelu_pytorch_tanh',
  embed_scale: "Gemma's embeddings × sqrt(hidden_size)",
  query_pre_attn_scalar: 'query_pre_attn_scalar (attention scale)',
  attn_logit_softcapping: 'attn_logit_softcapping',
  final_logit_softcapping: 'final_logit_softcapping',
  local_rope: 'rope_local_base_freq (RoPE of sliding layers)',
  fused_qkv: 'fused qkv_proj',
  fused_gate_up: 'fused gate_up_proj',
  partial_rotary: 'partial_rotary_factor < 1',
  longrope: 'rope_scaling type longrope',
};

/** The features of a spec that go beyond Llama's computation. */
export function archFeatures(spec: ModelSpec): ArchFeature[] {
  const entry = archOf(spec);
  const f: ArchFeature[] = [];
  if (spec.qkNorm) f.push('qk_norm');
  if (slidingWindowOf(spec) !== null) f.push('sliding_window');
  if (entry.normWeight === 'one_plus_w') f.push('norm_one_plus_w');
  if (entry.norms.some((n) => n.role === 'post_attention' || n.role === 'post_feedforward')) f.push('sandwich_norms');
  if (hiddenAct(spec) === 'gelu_pytorch_tanh') f.push('gelu_tanh');
  if (embedScale(spec) !== 1) f.push('embed_scale');
  if (spec.queryPreAttnScalar !== undefined && spec.queryPreAttnScalar !== spec.headDim) f.push('query_pre_attn_scalar');
  if (spec.attnLogitSoftcapping) f.push('attn_logit_softcapping');
  if (spec.finalLogitSoftcapping) f.push('final_logit_softcapping');
  if (spec.ropeLocal) f.push('local_rope');
  if (entry.linears.some((l) => l.parts.length > 1 && l.parts.includes('q'))) f.push('fused_qkv');
  if (entry.linears.some((l) => l.parts.length > 1 && l.parts.includes('gate'))) f.push('fused_gate_up');
  if (rotaryDim(spec) !== spec.headDim) f.push('partial_rotary');
  if (spec.rope.type === 'longrope') f.push('longrope');
  return f;
}

/**
 * Throws `makeError` naming every feature of `spec` that `consumer` does not compute (its
 * `supported` list), or returns when there is none.
 */
export function refuseUnsupported(spec: ModelSpec, consumer: string, supported: readonly ArchFeature[], makeError: (msg: string) => Error): void {
  const missing = archFeatures(spec).filter((f) => !supported.includes(f));
  if (missing.length === 0) return;
  throw makeError(`${spec.architecture} (model_type ${spec.modelType}) needs ${missing.map((f) => FEATURE_SOURCE[f]).join(', ')}, which ${consumer} does not compute yet`);
}

/** The attention window (keys t-W+1..t) of sliding layers, or null when no layer has one narrower than the context. */
export function slidingWindowOf(spec: ModelSpec): number | null {
  const w = spec.slidingWindow ?? null;
  if (w === null || w >= spec.maxPositionEmbeddings) return null;
  return isSlidingLayerAny(spec) ? w : null;
}

function isSlidingLayerAny(spec: ModelSpec): boolean {
  return spec.layerTypes === undefined || spec.layerTypes.some((t) => t === 'sliding_attention');
}

/** Whether layer `layer` attends through the sliding window (absent layerTypes: every layer, as Mistral). */
export function isSlidingLayer(spec: ModelSpec, layer: number): boolean {
  if (slidingWindowOf(spec) === null) return false;
  return spec.layerTypes === undefined || spec.layerTypes[layer] === 'sliding_attention';
}

/** A layer's attention: its window (null = full causal) and its RoPE (rope_local_base_freq on Gemma 3's sliding layers). */
export function layerAttention(spec: ModelSpec, layer: number): { window: number | null; rope: RopeConfig } {
  const sliding = isSlidingLayer(spec, layer);
  return { window: sliding ? slidingWindowOf(spec) : null, rope: sliding && spec.ropeLocal ? spec.ropeLocal : spec.rope };
}

/**
 * The longest context a consumer may run: max_position_embeddings, and, for a consumer that does
 * not compute the sliding window (`computesWindow` false), the window itself (within it, full
 * causal attention is the same computation). `why` names the limit for a refusal.
 */
export function attentionContextLimit(spec: ModelSpec, computesWindow: boolean): { tokens: number; why: string } {
  const w = slidingWindowOf(spec);
  if (w !== null && !computesWindow) return { tokens: w, why: `this model's sliding_window of ${w} (sliding-window attention is not computed here: longer contexts are refused)` };
  return { tokens: spec.maxPositionEmbeddings, why: `max_position_embeddings ${spec.maxPositionEmbeddings}` };
}

/** The MLP's activation (hidden_act, or Gemma's hidden_activation). */
export function hiddenAct(spec: ModelSpec): 'silu' | 'gelu_pytorch_tanh' {
  return spec.hiddenAct ?? 'silu';
}

/** The softmax scale of attention scores: query_pre_attn_scalar^-0.5 (Gemma), else head_dim^-0.5. */
export function attentionScale(spec: ModelSpec): number {
  return 1 / Math.sqrt(spec.queryPreAttnScalar ?? spec.headDim);
}

/** What the embedding rows are multiplied by: sqrt(hidden_size) in the activations' dtype (Gemma), else 1. */
export function embedScale(spec: ModelSpec): number {
  return archOf(spec).scaleEmbeddings ? Math.fround(Math.sqrt(spec.hiddenSize)) : 1;
}

/** The dimensions of each head that RoPE rotates: head_dim × partial_rotary_factor (Phi-4-mini: 0.75). */
export function rotaryDim(spec: ModelSpec): number {
  return spec.rotaryDim ?? spec.headDim;
}

/**
 * Every feature the table has today. The engine and the ONNX graph (export/onnx/decoder.ts) each
 * compute all of them and name this one list; a feature added to ArchFeature joins it only once
 * both compute it (until then, give them their own lists again): whoever does not is refused by name.
 */
export const EVERY_FEATURE: readonly ArchFeature[] = [
  'qk_norm',
  'sliding_window',
  'norm_one_plus_w',
  'sandwich_norms',
  'gelu_tanh',
  'embed_scale',
  'query_pre_attn_scalar',
  'attn_logit_softcapping',
  'final_logit_softcapping',
  'local_rope',
  'fused_qkv',
  'fused_gate_up',
  'partial_rotary',
  'longrope',
];

/**
 * Features the engine's training and decoding compute (the others are refused by name:
 * checkEngineSupports). The sliding window is computed exactly in the attention kernels
 * (training and decoding), so no context limit beyond max_position_embeddings applies.
 */
export const ENGINE_FEATURES: readonly ArchFeature[] = EVERY_FEATURE;
export const ENGINE_COMPUTES_WINDOW = true;

/** Refuses (makeError) a spec with a feature the engine does not compute, naming it; `use` says what for. */
export function checkEngineSupports(spec: ModelSpec, use: 'training' | 'decoding', makeError: (msg: string) => Error): void {
  refuseUnsupported(spec, `the engine (${use})`, ENGINE_FEATURES, makeError);
}

/** The engine's context limit: attentionContextLimit with what it computes. */
export function engineContextLimit(spec: ModelSpec): { tokens: number; why: string } {
  return attentionContextLimit(spec, ENGINE_COMPUTES_WINDOW);
}
