// config.json → ModelSpec, refusing (by name, before any GPU work) whatever the engine does not
// compute exactly as transformers does. Runs in Node and in the browser.

import type { AttentionLayerType, ModelSpec, RopeConfig } from './spec';
import { hasOwn } from '../../io/untrusted/json';
import { MODEL_LIMITS, preview } from '../../io/untrusted/limits';
import { ARCH_TABLE, REFUSED_ARCHITECTURES, SUPPORTED_ARCHITECTURES, type ModelFamily } from './arch';

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

type ModelType = ModelFamily;

/** The architecture list lives in the table (./arch); re-exported for the Hub search. */
export { SUPPORTED_ARCHITECTURES };

export const SUPPORTED_ROPE_TYPES: readonly RopeConfig['type'][] = ['default', 'linear', 'llama3', 'dynamic', 'yarn', 'longrope'];

const DEFAULT_THETA = 10000;

type Json = Record<string, unknown>;

/**
 * Parses a Hugging Face config.json (already JSON-parsed). Throws ModelConfigError naming the
 * field for anything missing, malformed or unsupported.
 */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelSpec {
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${file}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('must be a JSON object');
  const c = json as Json;
  const has = (k: string): boolean => c[k] !== undefined && c[k] !== null;

  // ---- architecture
  const supportedList = Object.entries(SUPPORTED_ARCHITECTURES)
    .map(([a, t]) => `${a} (${t})`)
    .join(', ');
  let architecture: string | null = null;
  if (has('architectures')) {
    const a = c.architectures;
    if (!Array.isArray(a) || a.length === 0 || typeof a[0] !== 'string') fail('architectures must be a non-empty list of strings');
    const list = a as unknown[];
    if (list.length > 1) fail(`architectures lists ${list.length} architectures (${preview(list)}); expected one`);
    architecture = list[0] as string;
    if (hasOwn(REFUSED_ARCHITECTURES, architecture)) fail(`architecture ${architecture}: ${REFUSED_ARCHITECTURES[architecture]}`);
    // Own keys only: "constructor" or "toString" must not pass as an architecture.
    if (!hasOwn(SUPPORTED_ARCHITECTURES, architecture)) {
      fail(`architecture ${preview(architecture)} is not supported (supported: ${supportedList})`);
    }
  }
  let modelType: ModelType;
  if (has('model_type')) {
    const t = c.model_type;
    if (typeof t === 'string' && hasOwn(REFUSED_ARCHITECTURES, t)) fail(`model_type ${t}: ${REFUSED_ARCHITECTURES[t]}`);
    const known = Object.values(SUPPORTED_ARCHITECTURES);
    if (typeof t !== 'string' || !(known as string[]).includes(t)) {
      return fail(`model_type ${preview(t)} is not supported (supported: ${supportedList})`);
    }
    modelType = t as ModelType;
    if (architecture !== null && SUPPORTED_ARCHITECTURES[architecture] !== modelType) {
      fail(`architecture "${architecture}" does not match model_type "${modelType}"`);
    }
    if (architecture === null) {
      architecture = Object.keys(SUPPORTED_ARCHITECTURES).find((a) => SUPPORTED_ARCHITECTURES[a] === modelType)!;
    }
  } else if (architecture !== null) {
    modelType = SUPPORTED_ARCHITECTURES[architecture];
  } else {
    return fail(`missing required field "architectures" (or "model_type"); supported: ${supportedList}`);
  }

  // ---- field readers
  const posInt = (k: keyof typeof MODEL_LIMITS, def?: number): number => {
    const v = c[k];
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      return fail(`missing required field "${k}"`);
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      return fail(`${k} must be a positive integer, not ${preview(v)}`);
    }
    // Sizes are bounded before anything (a layer map, a table) is built from them.
    if (v > MODEL_LIMITS[k]) return fail(`${k} ${v} is more than the ${MODEL_LIMITS[k]} this engine accepts`);
    return v;
  };
  const bool = (k: string, def: boolean): boolean => {
    const v = c[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') return fail(`${k} must be true or false, not ${preview(v)}`);
    return v;
  };
  const tokenId = (k: string): number | null => {
    const v = c[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return fail(`${k} must be a non-negative integer, not ${preview(v)}`);
    return v;
  };

  const vocabSize = posInt('vocab_size');
  const hiddenSize = posInt('hidden_size');
  const intermediateSize = posInt('intermediate_size');
  const numLayers = posInt('num_hidden_layers');
  const numHeads = posInt('num_attention_heads');
  const numKvHeads = posInt('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const entry = ARCH_TABLE[modelType];
  const defaults = entry.defaults;
  const gemma = modelType === 'gemma2' || modelType === 'gemma3_text';
  let headDim: number;
  if (has('head_dim')) headDim = posInt('head_dim');
  else if (defaults.headDim !== null) headDim = defaults.headDim; // e.g. Qwen3Config's 128, Gemma's 256, as transformers uses them
  else {
    if (hiddenSize % numHeads !== 0) {
      fail(`hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}) and head_dim is not given`);
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} must be even for RoPE`);
  const maxPositionEmbeddings = posInt('max_position_embeddings', defaults.maxPositionEmbeddings);
  if (maxPositionEmbeddings < 2) fail(`max_position_embeddings ${maxPositionEmbeddings}: a model of fewer than 2 positions cannot be trained to predict a next token`);

  let rmsNormEps = defaults.rmsNormEps;
  if (has('rms_norm_eps')) {
    const v = c.rms_norm_eps;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`rms_norm_eps must be a positive number, not ${preview(v)}`);
    rmsNormEps = v as number;
  }

  const positive = (k: string, def: number | null): number | null => {
    const v = c[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(`${k} must be a positive number or null, not ${preview(v)}`);
    return v;
  };
  const zero = (k: string): void => {
    if (has(k) && c[k] !== 0) fail(`${k} ${preview(c[k])} is not supported (must be 0: the engine trains without dropout on the base model)`);
  };

  // ---- things the engine does not compute
  // Gemma reads hidden_activation (its MLP ignores hidden_act); the others hidden_act.
  const actField = gemma ? 'hidden_activation' : 'hidden_act';
  const act = has(actField) ? c[actField] : gemma ? 'gelu_pytorch_tanh' : 'silu';
  const acts = gemma ? ['gelu_pytorch_tanh'] : ['silu'];
  if (!acts.includes(act as string)) fail(`${actField} ${preview(act)} is not supported (supported: ${acts.join(', ')})`);
  if (has('quantization_config')) fail('quantization_config is not supported: use an unquantized (F32, F16 or BF16) checkpoint');
  zero('attention_dropout');
  if (modelType === 'phi3') ['resid_pdrop', 'embd_pdrop'].forEach(zero);
  if (bool('use_bidirectional_attention', false)) fail('use_bidirectional_attention true is not supported (causal language models only)');
  // pretraining_tp is ignored: transformers 5 ignores it too (older versions only split the matmuls).
  if (modelType === 'qwen2' || modelType === 'qwen3') {
    if (bool('use_sliding_window', false)) {
      fail('use_sliding_window true is not supported (Qwen\'s per-layer sliding window is not implemented)');
    }
  }

  // ---- attention: windows, layer kinds, scale, soft-capping
  let slidingWindow: number | null = null;
  let layerTypes: AttentionLayerType[] | undefined;
  if (modelType === 'mistral' || modelType === 'phi3' || gemma) {
    slidingWindow = has('sliding_window') ? posInt('sliding_window') : gemma ? 4096 : null;
  }
  if (has('layer_types')) {
    const lt = c.layer_types;
    if (!Array.isArray(lt)) fail('layer_types must be a list');
    const kinds: string[] = gemma ? ['full_attention', 'sliding_attention'] : ['full_attention'];
    const other = (lt as unknown[]).find((t) => !kinds.includes(t as string));
    if (other !== undefined) fail(`layer_types contains ${preview(other)}; supported: ${kinds.map((k) => `"${k}"`).join(', ')}`);
    if ((lt as unknown[]).length !== numLayers) fail(`layer_types lists ${(lt as unknown[]).length} layers, but num_hidden_layers is ${numLayers}`);
    if (gemma) layerTypes = (lt as AttentionLayerType[]).slice();
  } else if (gemma) {
    // transformers' defaults: Gemma 2 alternates sliding and full layers; Gemma 3's older configs
    // give sliding_window_pattern N (every N-th layer full, default 6).
    const pattern = modelType === 'gemma2' ? 2 : posInt('sliding_window_pattern', 6);
    layerTypes = Array.from({ length: numLayers }, (_, i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention'));
  }
  if (gemma && slidingWindow === null && layerTypes!.includes('sliding_attention')) fail('sliding_window must be a positive integer for sliding_attention layers');
  const queryPreAttnScalar = gemma ? positive('query_pre_attn_scalar', 256)! : undefined;
  // transformers: an absent soft-cap takes the config class's default (Gemma 2: 50 / 30), an explicit null turns it off.
  const softcap = (k: string, def: number | null): number | null => (c[k] === null ? null : positive(k, def));
  const attnLogitSoftcapping = gemma ? softcap('attn_logit_softcapping', modelType === 'gemma2' ? 50 : null) : null;
  const finalLogitSoftcapping = gemma ? softcap('final_logit_softcapping', modelType === 'gemma2' ? 30 : null) : null;

  // ---- biases and norms
  let qkvBias = false;
  let oBias = false;
  let mlpBias = false;
  switch (modelType) {
    case 'llama':
      qkvBias = oBias = bool('attention_bias', false);
      mlpBias = bool('mlp_bias', false);
      break;
    case 'mistral':
    case 'phi3':
      break; // MistralAttention/MLP and Phi-3's fused modules have no biases
    case 'qwen2':
      qkvBias = true;
      break;
    case 'qwen3':
    case 'gemma2':
    case 'gemma3_text':
      qkvBias = oBias = bool('attention_bias', false);
      break;
  }
  const qkNorm = entry.norms.some((n) => n.role === 'q_norm');

  // ---- RoPE (Gemma 3: rope_local_base_freq on sliding layers; Phi-3: partial_rotary_factor)
  let rotaryDim = headDim;
  const prf = c.partial_rotary_factor ?? (isObj(c.rope_parameters) ? c.rope_parameters.partial_rotary_factor : undefined);
  if (prf !== undefined && prf !== null && prf !== 1) {
    if (modelType !== 'phi3') fail(`partial_rotary_factor ${preview(prf)} is not supported for ${modelType} (must be 1)`);
    if (typeof prf !== 'number' || !(prf > 0 && prf <= 1)) fail(`partial_rotary_factor must be a number in (0, 1], not ${preview(prf)}`);
    rotaryDim = Math.floor(headDim * (prf as number)); // transformers: int(head_dim * partial_rotary_factor)
    if (rotaryDim % 2 !== 0 || rotaryDim === 0) fail(`partial_rotary_factor ${prf} rotates ${rotaryDim} of head_dim ${headDim}: must be a positive even number`);
  }
  const { rope, local } = parseRopes(c, modelType, maxPositionEmbeddings, rotaryDim, defaults.ropeTheta, fail);
  let ropeLocal: RopeConfig | null = local;
  if (modelType === 'gemma3_text' && ropeLocal === null) {
    ropeLocal = { ...plainRope(positive('rope_local_base_freq', 10000)!, maxPositionEmbeddings) };
  }

  // ---- tokens
  let eosTokenId: number | number[] | null;
  if (Array.isArray(c.eos_token_id)) {
    const ids = c.eos_token_id as unknown[];
    if (!ids.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      fail(`eos_token_id must be an integer or a list of integers, not ${preview(ids)}`);
    }
    eosTokenId = (ids as number[]).slice();
  } else {
    eosTokenId = tokenId('eos_token_id');
  }

  return {
    architecture: architecture!,
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps,
    rope,
    tieWordEmbeddings: bool('tie_word_embeddings', defaults.tieWordEmbeddings),
    qkvBias,
    oBias,
    mlpBias,
    qkNorm,
    maxPositionEmbeddings,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId,
    padTokenId: tokenId('pad_token_id'),
    slidingWindow,
    ...(layerTypes ? { layerTypes } : {}),
    ...(ropeLocal ? { ropeLocal } : {}),
    ...(gemma ? { hiddenAct: 'gelu_pytorch_tanh' as const, queryPreAttnScalar: queryPreAttnScalar!, attnLogitSoftcapping, finalLogitSoftcapping } : {}),
    ...(rotaryDim !== headDim ? { rotaryDim } : {}),
  };
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Default RoPE (no scaling) with base `theta`. */
function plainRope(theta: number, maxPositions: number): RopeConfig {
  return { theta, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: maxPositions };
}

/**
 * Reads RoPE settings in either form, as transformers 5 standardizes them:
 * `rope_parameters: {rope_type, rope_theta, factor, ...}` (transformers 5), its per-layer-type form
 * `{full_attention: {...}, sliding_attention: {...}}` (Gemma: `local` is the sliding layers'), or
 * `rope_theta` + `rope_scaling: {rope_type | type, factor, ...}` (classic; Gemma 3's sliding layers
 * then use rope_local_base_freq, set by the caller). rope_parameters.rope_theta wins over a
 * top-level rope_theta; the default theta is the family's.
 */
function parseRopes(
  c: Json,
  modelType: ModelType,
  maxPositions: number,
  rotaryDim: number,
  defaultTheta: number,
  fail: (msg: string) => never,
): { rope: RopeConfig; local: RopeConfig | null } {
  const one = (params: Json, field: string, thetaFallback: number): RopeConfig => parseRope(c, params, field, maxPositions, rotaryDim, thetaFallback, fail);
  const topTheta = (): number => {
    const v = c.rope_theta;
    if (v === undefined || v === null) return defaultTheta;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(`rope_theta must be a positive number, not ${preview(v)}`);
    return v;
  };
  if (c.rope_parameters !== undefined && c.rope_parameters !== null) {
    if (!isObj(c.rope_parameters)) fail('rope_parameters must be an object');
    const params = c.rope_parameters as Json;
    if (hasOwn(params, 'rope_type') || hasOwn(params, 'type') || hasOwn(params, 'rope_theta') || Object.keys(params).length === 0) {
      return { rope: one(params, 'rope_parameters', topTheta()), local: null };
    }
    // transformers 5 per-layer-type form
    const keys = Object.keys(params);
    const odd = keys.find((k) => k !== 'full_attention' && k !== 'sliding_attention');
    if (odd !== undefined) fail(`rope_parameters per layer type: ${preview(odd)} is not a layer type this engine knows (full_attention, sliding_attention)`);
    for (const k of keys) if (!isObj(params[k])) fail(`rope_parameters.${k} must be an object`);
    const gemma = modelType === 'gemma2' || modelType === 'gemma3_text';
    if (hasOwn(params, 'sliding_attention') && !gemma) fail(`rope_parameters.sliding_attention: ${modelType} has no sliding-attention layers`);
    const rope = one((params.full_attention as Json | undefined) ?? {}, 'rope_parameters.full_attention', topTheta());
    const localFallback = typeof c.rope_local_base_freq === 'number' ? c.rope_local_base_freq : 10000;
    const local = hasOwn(params, 'sliding_attention') ? one(params.sliding_attention as Json, 'rope_parameters.sliding_attention', localFallback) : null;
    return { rope, local };
  }
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    if (!isObj(c.rope_scaling)) fail('rope_scaling must be an object or null');
    return { rope: one(c.rope_scaling as Json, 'rope_scaling', topTheta()), local: null };
  }
  return { rope: one({}, 'rope_scaling', topTheta()), local: null };
}

/** What the scaling parsers read: the config, one RoPE parameter set, its field name and a number reader. */
interface RopeParse {
  c: Json;
  params: Json;
  field: string;
  maxPositions: number;
  rotaryDim: number;
  num: (obj: Json, key: string, name: string, required: boolean, def: number) => number;
  fail: (msg: string) => never;
}

/** One RoPE parameter set (see parseRopes). */
function parseRope(
  c: Json,
  params: Json,
  field: string,
  maxPositions: number,
  rotaryDim: number,
  thetaFallback: number,
  fail: (msg: string) => never,
): RopeConfig {
  const typeKey = params.rope_type !== undefined ? 'rope_type' : 'type';
  let rawType = params[typeKey] ?? 'default';
  // Phi3Config._rope_scaling_adjustment: an older `type` "su" or "yarn" is LongRoPE.
  if (c.model_type === 'phi3' && typeKey === 'type' && (rawType === 'su' || rawType === 'yarn')) rawType = 'longrope';
  if (typeof rawType !== 'string' || !(SUPPORTED_ROPE_TYPES as string[]).includes(rawType)) {
    fail(`${field}.${typeKey} ${preview(rawType)} is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')})`);
  }
  const type = rawType as RopeConfig['type'];

  const num = (obj: Json, key: string, name: string, required: boolean, def: number): number => {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (required) fail(`${name} is required for rope type "${type}"`);
      return def;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${name} must be a positive number, not ${preview(v)}`);
    return v as number;
  };

  const theta = num(params, 'rope_theta', `${field}.rope_theta`, false, thetaFallback);
  const rope: RopeConfig = { ...plainRope(theta, maxPositions), type };
  const ctx: RopeParse = { c, params, field, maxPositions, rotaryDim, num, fail };
  if (type === 'longrope') parseLongrope(rope, ctx);
  if (type === 'linear' || type === 'llama3' || type === 'dynamic') rope.factor = num(params, 'factor', `${field}.factor`, true, 1);
  if (type === 'llama3') {
    rope.lowFreqFactor = num(params, 'low_freq_factor', `${field}.low_freq_factor`, true, 1);
    rope.highFreqFactor = num(params, 'high_freq_factor', `${field}.high_freq_factor`, true, 1);
    const omp = params.original_max_position_embeddings ?? c.original_max_position_embeddings;
    if (typeof omp !== 'number' || !Number.isSafeInteger(omp) || omp <= 0) {
      fail(`${field}.original_max_position_embeddings must be a positive integer for rope type "llama3", not ${preview(omp)}`);
    }
    rope.originalMaxPositionEmbeddings = omp as number;
    if (rope.highFreqFactor <= rope.lowFreqFactor) {
      fail(`${field}.high_freq_factor (${rope.highFreqFactor}) must be greater than low_freq_factor (${rope.lowFreqFactor})`);
    }
  }
  if (type === 'yarn') parseYarn(rope, ctx);
  return rope;
}

/**
 * YaRN as transformers' _compute_yarn_parameters reads it: factor (replaced by
 * max_position_embeddings / original_max_position_embeddings when the latter is given, as
 * transformers does), attention_factor (else from factor, mscale and mscale_all_dim), beta_fast
 * (32), beta_slow (1), truncate (true).
 */
function parseYarn(rope: RopeConfig, { params, field, maxPositions, num, fail }: RopeParse): void {
  let factor = num(params, 'factor', `${field}.factor`, true, 1);
  const omp = params.original_max_position_embeddings;
  if (omp !== undefined && omp !== null) {
    if (typeof omp !== 'number' || !Number.isSafeInteger(omp) || omp <= 0) {
      fail(`${field}.original_max_position_embeddings must be a positive integer, not ${preview(omp)}`);
    }
    rope.originalMaxPositionEmbeddings = omp as number;
    factor = maxPositions / (omp as number);
  }
  rope.factor = factor;
  const mscale = (scale: number, m: number): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  const m = params.mscale;
  const mAll = params.mscale_all_dim;
  const given = params.attention_factor;
  if (given !== undefined && given !== null) rope.attentionFactor = num(params, 'attention_factor', `${field}.attention_factor`, false, 1);
  else if (m && mAll) rope.attentionFactor = mscale(factor, num(params, 'mscale', `${field}.mscale`, false, 1)) / mscale(factor, num(params, 'mscale_all_dim', `${field}.mscale_all_dim`, false, 1));
  else rope.attentionFactor = mscale(factor, 1);
  const truncate = params.truncate ?? true;
  if (typeof truncate !== 'boolean') fail(`${field}.truncate must be true or false, not ${preview(truncate)}`);
  rope.yarn = {
    // `or` defaults, as transformers: 0 or null mean the default
    betaFast: params.beta_fast ? num(params, 'beta_fast', `${field}.beta_fast`, false, 32) : 32,
    betaSlow: params.beta_slow ? num(params, 'beta_slow', `${field}.beta_slow`, false, 1) : 1,
    truncate: truncate as boolean,
  };
}

/**
 * LongRoPE as transformers' _compute_longrope_parameters reads it: short_factor and long_factor
 * (one divisor per rotated frequency), and, where config.json has original_max_position_embeddings
 * (Phi-3), factor = max_position_embeddings / original_max_position_embeddings, else rope `factor`
 * with original = max_position_embeddings; attention_factor (else sqrt(1 + ln factor / ln original),
 * or 1 for factor ≤ 1) multiplies cos and sin.
 */
function parseLongrope(rope: RopeConfig, { c, params, field, maxPositions, rotaryDim, num, fail }: RopeParse): void {
  const factors = (key: string): number[] => {
    const v = params[key];
    if (!Array.isArray(v) || v.length !== rotaryDim / 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) {
      return fail(`${field}.${key} must be a list of ${rotaryDim / 2} positive numbers (one per rotated frequency), not ${preview(v)}`);
    }
    return (v as number[]).slice();
  };
  const shortFactor = factors('short_factor');
  const longFactor = factors('long_factor');
  // Phi3Config always has original_max_position_embeddings (4096 when config.json omits it).
  const omp = c.original_max_position_embeddings ?? params.original_max_position_embeddings ?? (c.model_type === 'phi3' ? 4096 : undefined);
  let factor: number;
  if (omp !== undefined && omp !== null) {
    if (typeof omp !== 'number' || !Number.isSafeInteger(omp) || omp <= 0) fail(`original_max_position_embeddings must be a positive integer, not ${preview(omp)}`);
    rope.originalMaxPositionEmbeddings = omp as number;
    factor = maxPositions / (omp as number);
  } else {
    factor = num(params, 'factor', `${field}.factor`, false, 1);
  }
  rope.factor = factor;
  const given = params.attention_factor;
  rope.attentionFactor =
    given !== undefined && given !== null
      ? num(params, 'attention_factor', `${field}.attention_factor`, false, 1)
      : factor <= 1
        ? 1
        : Math.sqrt(1 + Math.log(factor) / Math.log(rope.originalMaxPositionEmbeddings));
  rope.longrope = { shortFactor, longFactor };
}
