// config.json → ModelSpec, refusing (by name, before any GPU work) whatever the engine does not
// compute exactly as transformers does. Runs in Node and in the browser.

import type { ModelSpec, RopeConfig } from './spec';
import { hasOwn } from '../../io/untrusted/json';
import { MODEL_LIMITS, preview } from '../../io/untrusted/limits';

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

type ModelType = ModelSpec['modelType'];

/** Supported architectures and their model_type. */
export const SUPPORTED_ARCHITECTURES: Readonly<Record<string, ModelType>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

export const SUPPORTED_ROPE_TYPES: readonly RopeConfig['type'][] = ['default', 'linear', 'llama3', 'dynamic', 'yarn'];

/** transformers' defaults where config.json omits a field, per model type. */
const DEFAULT_MAX_POSITIONS: Record<ModelType, number> = { llama: 2048, mistral: 4096 * 32, qwen2: 32768, qwen3: 32768 };
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
    // Own keys only: "constructor" or "toString" must not pass as an architecture.
    if (!hasOwn(SUPPORTED_ARCHITECTURES, architecture)) {
      fail(`architecture ${preview(architecture)} is not supported (supported: ${supportedList})`);
    }
  }
  let modelType: ModelType;
  if (has('model_type')) {
    const t = c.model_type;
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
  let headDim: number;
  if (has('head_dim')) headDim = posInt('head_dim');
  else if (modelType === 'qwen3') headDim = 128; // Qwen3Config's default, as transformers uses it
  else {
    if (hiddenSize % numHeads !== 0) {
      fail(`hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}) and head_dim is not given`);
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} must be even for RoPE`);
  const maxPositionEmbeddings = posInt('max_position_embeddings', DEFAULT_MAX_POSITIONS[modelType]);
  if (maxPositionEmbeddings < 2) fail(`max_position_embeddings ${maxPositionEmbeddings}: a model of fewer than 2 positions cannot be trained to predict a next token`);

  let rmsNormEps = 1e-6;
  if (has('rms_norm_eps')) {
    const v = c.rms_norm_eps;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`rms_norm_eps must be a positive number, not ${preview(v)}`);
    rmsNormEps = v as number;
  }

  // ---- things the engine does not compute
  const act = has('hidden_act') ? c.hidden_act : 'silu';
  if (act !== 'silu') fail(`hidden_act ${preview(act)} is not supported (supported: silu)`);
  if (has('quantization_config')) fail('quantization_config is not supported: use an unquantized (F32, F16 or BF16) checkpoint');
  if (has('attention_dropout') && c.attention_dropout !== 0) {
    fail(`attention_dropout ${preview(c.attention_dropout)} is not supported (must be 0)`);
  }
  // pretraining_tp is ignored: transformers 5 ignores it too (older versions only split the matmuls).
  if (modelType === 'qwen2' || modelType === 'qwen3') {
    if (bool('use_sliding_window', false)) {
      fail('use_sliding_window true is not supported (sliding-window attention is not implemented)');
    }
  }
  if (has('layer_types')) {
    const lt = c.layer_types;
    if (!Array.isArray(lt)) fail('layer_types must be a list');
    const other = (lt as unknown[]).find((t) => t !== 'full_attention');
    if (other !== undefined) fail(`layer_types contains ${preview(other)}; only "full_attention" is supported`);
  }
  if (modelType === 'mistral' && has('sliding_window')) posInt('sliding_window'); // validated; see modelSlidingWindow

  // ---- biases and norms
  let qkvBias = false;
  let oBias = false;
  let mlpBias = false;
  let qkNorm = false;
  switch (modelType) {
    case 'llama':
      qkvBias = oBias = bool('attention_bias', false);
      mlpBias = bool('mlp_bias', false);
      break;
    case 'mistral':
      break; // MistralAttention/MLP have no biases
    case 'qwen2':
      qkvBias = true;
      break;
    case 'qwen3':
      qkvBias = oBias = bool('attention_bias', false);
      qkNorm = true;
      break;
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
    rope: parseRope(c, maxPositionEmbeddings, fail),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    qkvBias,
    oBias,
    mlpBias,
    qkNorm,
    maxPositionEmbeddings,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId,
    padTokenId: tokenId('pad_token_id'),
    slidingWindow: modelType === 'mistral' ? modelSlidingWindow(c) : null,
  };
}

/**
 * Reads RoPE settings in either form, as transformers 5 standardizes them:
 * `rope_parameters: {rope_type, rope_theta, factor, ...}` (transformers 5) or
 * `rope_theta` + `rope_scaling: {rope_type | type, factor, ...}` (classic).
 * rope_parameters.rope_theta wins over a top-level rope_theta; the default theta is 10000.
 */
function parseRope(c: Json, maxPositions: number, fail: (msg: string) => never): RopeConfig {
  const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
  let params: Json = {};
  let field = 'rope_parameters';
  if (c.rope_parameters !== undefined && c.rope_parameters !== null) {
    if (!isObj(c.rope_parameters)) fail('rope_parameters must be an object');
    params = c.rope_parameters as Json;
    if (!hasOwn(params, 'rope_type') && !hasOwn(params, 'type') && !hasOwn(params, 'rope_theta')) {
      // transformers 5 per-layer-type form, e.g. {full_attention: {...}, sliding_attention: {...}}
      const keys = Object.keys(params);
      if (keys.length === 1 && keys[0] === 'full_attention' && isObj(params.full_attention)) {
        params = params.full_attention;
        field = 'rope_parameters.full_attention';
      } else if (keys.length > 0) {
        fail(`rope_parameters per layer type (${keys.join(', ')}) is not supported`);
      }
    }
  } else if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    if (!isObj(c.rope_scaling)) fail('rope_scaling must be an object or null');
    params = c.rope_scaling as Json;
    field = 'rope_scaling';
  }

  const typeKey = params.rope_type !== undefined ? 'rope_type' : 'type';
  const rawType = params[typeKey] ?? 'default';
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

  let theta: number;
  if (params.rope_theta !== undefined && params.rope_theta !== null) theta = num(params, 'rope_theta', `${field}.rope_theta`, false, DEFAULT_THETA);
  else theta = num(c, 'rope_theta', 'rope_theta', false, DEFAULT_THETA);

  const prf = params.partial_rotary_factor ?? c.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) fail(`partial_rotary_factor ${preview(prf)} is not supported (must be 1)`);

  const rope: RopeConfig = {
    theta,
    type,
    factor: 1,
    lowFreqFactor: 1,
    highFreqFactor: 1,
    originalMaxPositionEmbeddings: maxPositions,
  };
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
  if (type === 'yarn') parseYarn(rope, params, field, maxPositions, num, fail);
  return rope;
}

/**
 * YaRN as transformers' _compute_yarn_parameters reads it: factor (replaced by
 * max_position_embeddings / original_max_position_embeddings when the latter is given, as
 * transformers does), attention_factor (else from factor, mscale and mscale_all_dim), beta_fast
 * (32), beta_slow (1), truncate (true).
 */
function parseYarn(
  rope: RopeConfig,
  params: Json,
  field: string,
  maxPositions: number,
  num: (obj: Json, key: string, name: string, required: boolean, def: number) => number,
  fail: (msg: string) => never,
): void {
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
 * The attention window of a Mistral config (`sliding_window`), or null for full attention.
 * ModelSpec has no field for it: training on sequences longer than this window must be refused,
 * since the engine computes full causal attention. Llama/Qwen configs give null (Qwen's window is
 * refused by parseModelConfig when use_sliding_window is true).
 */
export function modelSlidingWindow(json: unknown): number | null {
  if (typeof json !== 'object' || json === null) return null;
  const c = json as Json;
  if (c.model_type !== 'mistral' && !(Array.isArray(c.architectures) && c.architectures[0] === 'MistralForCausalLM')) return null;
  const w = c.sliding_window;
  return typeof w === 'number' && Number.isSafeInteger(w) && w > 0 ? w : null;
}
