// config.json → ModelSpec for the Gemma 3, Gemma 2 and Phi-3 families (transformers'
// configuration_gemma3.py / configuration_gemma2.py / configuration_phi3.py and
// modeling_rope_utils.py semantics), and their refusals by name.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, parseModelConfig } from './config';
import { archFeatures, attentionScale, checkEngineSupports, embedScale, expectedWeightShapes, layerAttention, projectionShape, projectionSlices, slidingWindowOf } from './arch';
import { PRESETS } from './presets';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/reference/', import.meta.url));
const fixtureConfig = (m: string): Record<string, unknown> => JSON.parse(readFileSync(`${FIXTURES}${m}/model/config.json`, 'utf8'));

function refuses(cfg: Record<string, unknown>, pattern: RegExp | string): void {
  expect(() => parseModelConfig(cfg)).toThrow(ModelConfigError);
  expect(() => parseModelConfig(cfg)).toThrow(pattern);
}

/** google/gemma-3-270m's config.json (transformers 4.55 form: layer_types written out). */
const gemma3_270m = (): Record<string, unknown> => ({
  _sliding_window_pattern: 6,
  architectures: ['Gemma3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 640,
  intermediate_size: 2048,
  layer_types: Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 ? 'sliding_attention' : 'full_attention')),
  max_position_embeddings: 32768,
  model_type: 'gemma3_text',
  num_attention_heads: 4,
  num_hidden_layers: 18,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 512,
  use_bidirectional_attention: false,
  vocab_size: 262144,
});

/** microsoft/Phi-4-mini-instruct's config.json, its 48 long/short factors shortened to a pattern. */
const phi4mini = (): Record<string, unknown> => ({
  architectures: ['Phi3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 199999,
  embd_pdrop: 0.0,
  eos_token_id: 199999,
  hidden_act: 'silu',
  hidden_size: 3072,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  model_type: 'phi3',
  num_attention_heads: 24,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  original_max_position_embeddings: 4096,
  pad_token_id: 199999,
  partial_rotary_factor: 0.75,
  resid_pdrop: 0.0,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    long_factor: Array.from({ length: 48 }, (_, i) => 1 + i * 0.5),
    short_factor: Array.from({ length: 48 }, () => 1),
    type: 'longrope',
  },
  rope_theta: 10000.0,
  sliding_window: 262144,
  tie_word_embeddings: true,
  vocab_size: 200064,
});

describe('Gemma 3 (Gemma3ForCausalLM, gemma3_text)', () => {
  it('tiny-gemma3: every field the engine reads', () => {
    const spec = parseModelConfig(fixtureConfig('tiny-gemma3'));
    expect(spec).toMatchObject({
      modelType: 'gemma3_text',
      headDim: 32,
      qkNorm: true,
      qkvBias: false,
      tieWordEmbeddings: true, // Gemma3TextConfig's default
      hiddenAct: 'gelu_pytorch_tanh',
      queryPreAttnScalar: 32,
      attnLogitSoftcapping: null,
      finalLogitSoftcapping: null,
      slidingWindow: 8,
      layerTypes: ['sliding_attention', 'full_attention', 'sliding_attention'],
    });
    expect(spec.rope).toMatchObject({ theta: 1000000, type: 'default' });
    expect(spec.ropeLocal).toMatchObject({ theta: 10000, type: 'default' });
    expect(layerAttention(spec, 0)).toMatchObject({ window: 8, rope: { theta: 10000 } });
    expect(layerAttention(spec, 1)).toMatchObject({ window: null, rope: { theta: 1000000 } });
    expect(attentionScale(spec)).toBe(1 / Math.sqrt(32));
    expect(embedScale(spec)).toBe(Math.fround(8));
    const names = [...expectedWeightShapes(spec).keys()].filter((n) => n.startsWith('model.layers.0.'));
    expect(names).toEqual([
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.q_norm.weight',
      'model.layers.0.self_attn.k_norm.weight',
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.mlp.gate_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.pre_feedforward_layernorm.weight',
      'model.layers.0.post_feedforward_layernorm.weight',
    ]);
    expect(archFeatures(spec)).toEqual(
      expect.arrayContaining(['qk_norm', 'sliding_window', 'norm_one_plus_w', 'sandwich_norms', 'gelu_tanh', 'embed_scale', 'local_rope']),
    );
    expect(() => checkEngineSupports(spec, 'training', (m) => new Error(m))).not.toThrow();
  });

  it('gemma-3-270m: 262k vocabulary, head_dim 256 ≠ hidden/heads, 5 sliding : 1 full', () => {
    const spec = parseModelConfig(gemma3_270m());
    expect(spec).toMatchObject({ vocabSize: 262144, hiddenSize: 640, headDim: 256, numKvHeads: 1, slidingWindow: 512, tieWordEmbeddings: true });
    expect(spec.layerTypes!.filter((t) => t === 'full_attention')).toHaveLength(3);
    expect(projectionShape(spec, 'q_proj')).toEqual([1024, 640]);
    expect(projectionShape(spec, 'o_proj')).toEqual([640, 1024]);
  });

  it('older configs: sliding_window_pattern N (every N-th layer full); defaults when absent', () => {
    const c = gemma3_270m();
    delete c.layer_types;
    delete c._sliding_window_pattern;
    c.sliding_window_pattern = 3;
    c.num_hidden_layers = 6;
    expect(parseModelConfig(c).layerTypes).toEqual(['sliding_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'sliding_attention', 'full_attention']);
    delete c.sliding_window_pattern;
    expect(parseModelConfig(c).layerTypes).toEqual([...Array(5).fill('sliding_attention'), 'full_attention']);
    delete c.query_pre_attn_scalar;
    delete c.rope_local_base_freq;
    delete c.head_dim;
    const spec = parseModelConfig(c);
    expect(spec.queryPreAttnScalar).toBe(256);
    expect(spec.headDim).toBe(256);
    expect(spec.ropeLocal!.theta).toBe(10000);
  });

  it('transformers 5 rope_parameters per layer type; linear scaling on the full layers (4B+)', () => {
    const c = gemma3_270m();
    delete c.rope_theta;
    delete c.rope_local_base_freq;
    c.rope_parameters = {
      full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1000000 },
      sliding_attention: { rope_type: 'default', rope_theta: 10000 },
    };
    const spec = parseModelConfig(c);
    expect(spec.rope).toMatchObject({ type: 'linear', factor: 8, theta: 1000000 });
    expect(spec.ropeLocal).toMatchObject({ type: 'default', theta: 10000 });
    c.rope_parameters = { chunked_attention: {} };
    refuses(c, /rope_parameters per layer type: "chunked_attention" is not a layer type/);
  });

  it('refuses what it cannot honour, by name', () => {
    refuses({ ...gemma3_270m(), architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3' }, /Gemma3ForConditionalGeneration: the multimodal Gemma 3 .* use a text-only Gemma3ForCausalLM/);
    refuses({ ...gemma3_270m(), architectures: undefined, model_type: 'gemma3' }, /model_type gemma3: .*text-only Gemma3ForCausalLM/);
    refuses({ ...gemma3_270m(), architectures: ['Gemma3nForCausalLM'], model_type: 'gemma3n_text' }, /Gemma 3n .* not supported/);
    refuses({ ...gemma3_270m(), hidden_activation: 'gelu' }, 'config.json: hidden_activation "gelu" is not supported (supported: gelu_pytorch_tanh)');
    refuses({ ...gemma3_270m(), use_bidirectional_attention: true }, /use_bidirectional_attention true is not supported/);
    refuses({ ...gemma3_270m(), layer_types: ['sliding_attention'] }, /layer_types lists 1 layers, but num_hidden_layers is 18/);
    refuses({ ...gemma3_270m(), layer_types: Array(18).fill('chunked_attention') }, /layer_types contains "chunked_attention"/);
    refuses({ ...gemma3_270m(), attn_logit_softcapping: -1 }, /attn_logit_softcapping must be a positive number or null, not -1/);
  });
});

describe('Gemma 2 (Gemma2ForCausalLM)', () => {
  it('tiny-gemma2: soft-capping, alternating sliding / full layers, tied head by default', () => {
    const spec = parseModelConfig(fixtureConfig('tiny-gemma2'));
    const { modelType, headDim, qkNorm, tieWordEmbeddings, attnLogitSoftcapping, finalLogitSoftcapping, queryPreAttnScalar, slidingWindow, layerTypes } = spec;
    expect([modelType, headDim, qkNorm, tieWordEmbeddings, attnLogitSoftcapping, finalLogitSoftcapping, queryPreAttnScalar, slidingWindow]).toEqual(['gemma2', 16, false, true, 2, 3, 16, 6]);
    expect(layerTypes).toEqual(['sliding_attention', 'full_attention']);
    expect(spec.ropeLocal).toBeUndefined();
    expect(layerAttention(spec, 0).rope).toBe(spec.rope);
    expect(archFeatures(spec)).toEqual(expect.arrayContaining(['attn_logit_softcapping', 'final_logit_softcapping', 'sandwich_norms']));
    expect(expectedWeightShapes(spec).has('model.layers.0.self_attn.q_norm.weight')).toBe(false);
  });

  it("transformers' defaults: softcaps 50 / 30, window 4096, query_pre_attn_scalar 256", () => {
    const c = fixtureConfig('tiny-gemma2');
    for (const k of ['attn_logit_softcapping', 'final_logit_softcapping', 'sliding_window', 'query_pre_attn_scalar']) delete c[k];
    c.max_position_embeddings = 8192;
    expect(parseModelConfig(c)).toMatchObject({ attnLogitSoftcapping: 50, finalLogitSoftcapping: 30, slidingWindow: 4096, queryPreAttnScalar: 256 });
  });

  it('an explicit null soft-cap turns it off, as transformers reads it (None), while an absent one takes the default', () => {
    const c = fixtureConfig('tiny-gemma2');
    c.attn_logit_softcapping = null;
    delete c.final_logit_softcapping;
    const spec = parseModelConfig(c);
    expect([spec.attnLogitSoftcapping, spec.finalLogitSoftcapping]).toEqual([null, 30]);
    expect(archFeatures(spec)).not.toContain('attn_logit_softcapping');
  });
});

describe('Phi-3 / Phi-4-mini (Phi3ForCausalLM)', () => {
  it('tiny-phi3: fused qkv_proj and gate_up_proj, each one LoRA site with its slices', () => {
    const spec = parseModelConfig(fixtureConfig('tiny-phi3'));
    expect(spec).toMatchObject({ modelType: 'phi3', headDim: 16, tieWordEmbeddings: false, slidingWindow: null, rmsNormEps: 1e-5 });
    expect(spec.rotaryDim).toBeUndefined();
    expect(projectionShape(spec, 'qkv_proj')).toEqual([64 + 2 * 32, 64]);
    expect(projectionSlices(spec, 'qkv_proj')).toEqual([
      { role: 'q', offset: 0, rows: 64 },
      { role: 'k', offset: 64, rows: 32 },
      { role: 'v', offset: 96, rows: 32 },
    ]);
    expect(projectionSlices(spec, 'gate_up_proj')).toEqual([
      { role: 'gate', offset: 0, rows: 128 },
      { role: 'up', offset: 128, rows: 128 },
    ]);
    expect([...expectedWeightShapes(spec).keys()].filter((n) => n.startsWith('model.layers.1.'))).toEqual([
      'model.layers.1.input_layernorm.weight',
      'model.layers.1.self_attn.qkv_proj.weight',
      'model.layers.1.self_attn.o_proj.weight',
      'model.layers.1.mlp.gate_up_proj.weight',
      'model.layers.1.mlp.down_proj.weight',
      'model.layers.1.post_attention_layernorm.weight',
    ]);
    expect(archFeatures(spec)).toEqual(['fused_qkv', 'fused_gate_up']);
    expect(() => checkEngineSupports(spec, 'training', (m) => new Error(m))).not.toThrow();
    expect(() => checkEngineSupports(spec, 'decoding', (m) => new Error(m))).not.toThrow();
  });

  it('Phi-4-mini: partial_rotary_factor 0.75, longrope with its attention factor, tied head', () => {
    const spec = parseModelConfig(phi4mini());
    expect(spec).toMatchObject({ headDim: 128, rotaryDim: 96, tieWordEmbeddings: true });
    expect(spec.rope.type).toBe('longrope');
    expect(spec.rope.originalMaxPositionEmbeddings).toBe(4096);
    expect(spec.rope.factor).toBe(32);
    // transformers: sqrt(1 + ln(factor) / ln(original_max_position_embeddings))
    expect(spec.rope.attentionFactor).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 14);
    expect(spec.rope.longrope!.longFactor).toHaveLength(48);
    expect(slidingWindowOf(spec)).toBeNull(); // 262144 ≥ max_position_embeddings
    expect(archFeatures(spec)).toEqual(['fused_qkv', 'fused_gate_up', 'partial_rotary', 'longrope']);
    // The engine computes all four (training and decoding).
    expect(() => checkEngineSupports(spec, 'training', (m) => new Error(m))).not.toThrow();
    // The estimate / bench preset has these shapes.
    const preset = PRESETS['phi-4-mini'];
    for (const k of ['modelType', 'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'rotaryDim', 'tieWordEmbeddings', 'maxPositionEmbeddings', 'rmsNormEps'] as const) {
      expect(preset[k], k).toBe(spec[k]);
    }
    expect(preset.rope).toMatchObject({ type: 'longrope', theta: 10000, factor: spec.rope.factor, originalMaxPositionEmbeddings: 4096, attentionFactor: spec.rope.attentionFactor });
    expect(preset.rope.longrope!.shortFactor).toHaveLength(48);
    expect(preset.rope.longrope!.longFactor).toHaveLength(48);
    const c = phi4mini();
    (c.rope_scaling as Record<string, unknown>).attention_factor = 1.5;
    expect(parseModelConfig(c).rope.attentionFactor).toBe(1.5);
    // Phi3Config's original_max_position_embeddings defaults to 4096 (transformers reads it even when config.json omits it).
    const omitted = phi4mini();
    delete omitted.original_max_position_embeddings;
    expect(parseModelConfig(omitted).rope).toMatchObject({ originalMaxPositionEmbeddings: 4096, factor: 32 });
    // Older Phi-3 configs name LongRoPE "su" (or "yarn"): transformers' Phi3Config reads them as longrope.
    for (const type of ['su', 'yarn']) {
      const older = phi4mini();
      (older.rope_scaling as Record<string, unknown>).type = type;
      expect(parseModelConfig(older).rope).toMatchObject({ type: 'longrope', factor: 32 });
    }
  });

  it('refuses what it cannot honour, by name', () => {
    refuses({ ...phi4mini(), architectures: ['Phi3SmallForCausalLM'], model_type: 'phi3small' }, /Phi-3-small .* not supported: use Phi-3-mini, Phi-3-medium or Phi-4-mini/);
    refuses({ ...phi4mini(), resid_pdrop: 0.1 }, /resid_pdrop 0.1 is not supported/);
    refuses({ ...phi4mini(), rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1, 1] } }, /rope_scaling.short_factor must be a list of 48 positive numbers/);
    refuses({ ...phi4mini(), partial_rotary_factor: 0.7 }, /partial_rotary_factor 0.7 rotates 89 of head_dim 128: must be a positive even number/);
    refuses({ ...phi4mini(), hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/);
    const llama = { ...fixtureConfig('tiny-llama'), partial_rotary_factor: 0.5 };
    refuses(llama, /partial_rotary_factor 0.5 is not supported for llama/);
  });
});
