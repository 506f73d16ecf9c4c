import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, parseModelConfig } from './config';
import { attentionContextLimit, slidingWindowOf } from './arch';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/reference/', import.meta.url));
const fixtureConfig = (m: string): Record<string, unknown> => JSON.parse(readFileSync(`${FIXTURES}${m}/model/config.json`, 'utf8'));

/** A Llama 3.2 1B config.json in the classic (transformers 4) form. */
const llama32 = (): Record<string, unknown> => ({
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
});

function refuses(cfg: Record<string, unknown>, pattern: RegExp | string): void {
  expect(() => parseModelConfig(cfg)).toThrow(ModelConfigError);
  expect(() => parseModelConfig(cfg)).toThrow(pattern);
}

describe('parseModelConfig: fixtures', () => {
  it('tiny-llama (transformers 5 rope_parameters form)', () => {
    const spec = parseModelConfig(fixtureConfig('tiny-llama'));
    expect(spec).toEqual({
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      vocabSize: 512,
      hiddenSize: 64,
      intermediateSize: 128,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      rmsNormEps: 1e-5,
      rope: { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 512 },
      tieWordEmbeddings: false,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      qkNorm: false,
      maxPositionEmbeddings: 512,
      bosTokenId: null,
      eosTokenId: 2,
      padTokenId: 0,
      slidingWindow: null,
    });
  });

  it('tiny-qwen2 (legacy rope_theta, q/k/v bias, tied)', () => {
    const spec = parseModelConfig(fixtureConfig('tiny-qwen2'));
    expect(spec).toMatchObject({ modelType: 'qwen2', architecture: 'Qwen2ForCausalLM', qkvBias: true, oBias: false, mlpBias: false, qkNorm: false, tieWordEmbeddings: true });
    expect(spec).toMatchObject({ hiddenSize: 64, intermediateSize: 96, headDim: 16, rmsNormEps: 1e-6 });
    expect(spec.rope).toMatchObject({ theta: 1e6, type: 'default', factor: 1 });
  });

  it('tiny-qwen3 (head_dim 32 != hidden/heads, q/k norm, tied)', () => {
    const spec = parseModelConfig(fixtureConfig('tiny-qwen3'));
    expect(spec).toMatchObject({ modelType: 'qwen3', headDim: 32, numHeads: 4, numKvHeads: 2, qkNorm: true, qkvBias: false, oBias: false, tieWordEmbeddings: true });
    expect(spec.rope.theta).toBe(1e6);
  });
});

describe('parseModelConfig: RoPE forms', () => {
  it('classic rope_scaling llama3 parses into RopeConfig', () => {
    const spec = parseModelConfig(llama32());
    expect(spec.rope).toEqual({ theta: 500000, type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(spec).toMatchObject({ headDim: 64, numKvHeads: 8, tieWordEmbeddings: true, eosTokenId: [128001, 128008, 128009], bosTokenId: 128000, padTokenId: null });
  });

  it('transformers 5 rope_parameters llama3 gives the same RopeConfig', () => {
    const c = llama32();
    const { rope_scaling, rope_theta } = c as { rope_scaling: object; rope_theta: number };
    delete c.rope_scaling;
    delete c.rope_theta;
    c.rope_parameters = { ...rope_scaling, rope_theta };
    expect(parseModelConfig(c).rope).toEqual(parseModelConfig(llama32()).rope);
  });

  it('linear scaling, the legacy "type" key, and the default theta', () => {
    const c = llama32();
    c.rope_scaling = { type: 'linear', factor: 2 };
    delete c.rope_theta;
    expect(parseModelConfig(c).rope).toEqual({ theta: 10000, type: 'linear', factor: 2, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 131072 });
    c.rope_scaling = null;
    expect(parseModelConfig(c).rope).toMatchObject({ theta: 10000, type: 'default', factor: 1 });
  });

  it('refuses unsupported rope types by name', () => {
    const c = llama32();
    c.rope_scaling = { rope_type: 'su', factor: 4 };
    refuses(c, 'config.json: rope_scaling.rope_type "su" is not supported (supported: default, linear, llama3, dynamic, yarn, longrope)');
    c.rope_scaling = { rope_type: 'yarn', factor: 4, mscale: 1, mscale_all_dim: 0.5 };
    // attention factor from the mscales: (0.1·1·ln 4 + 1) / (0.1·0.5·ln 4 + 1)
    expect(parseModelConfig(c).rope.attentionFactor).toBeCloseTo((0.1 * Math.log(4) + 1) / (0.05 * Math.log(4) + 1), 12);
    c.rope_scaling = { rope_type: 'yarn', factor: 4, truncate: 'yes' };
    refuses(c, /rope_scaling.truncate must be true or false, not "yes"/);
    c.rope_scaling = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 0 };
    refuses(c, /rope_scaling.original_max_position_embeddings must be a positive integer, not 0/);
    c.rope_scaling = { type: 'dynamic' };
    refuses(c, /rope_scaling.factor is required for rope type "dynamic"/);
    c.rope_scaling = { type: 'dynamic', factor: 2 };
    expect(parseModelConfig(c).rope).toMatchObject({ type: 'dynamic', factor: 2, originalMaxPositionEmbeddings: 131072 });
    delete c.rope_scaling;
    c.rope_parameters = { rope_type: 'longrope', rope_theta: 10000 };
    refuses(c, /rope_parameters.short_factor must be a list of 32 positive numbers/);
  });

  it('refuses llama3 scaling without its parameters', () => {
    const c = llama32();
    c.rope_scaling = { rope_type: 'llama3', factor: 8 };
    refuses(c, /rope_scaling.low_freq_factor is required for rope type "llama3"/);
    c.rope_scaling = { rope_type: 'linear' };
    refuses(c, /rope_scaling.factor is required for rope type "linear"/);
  });
});

describe('parseModelConfig: refusals', () => {
  it('unknown architecture, naming the supported ones', () => {
    const c = llama32();
    c.architectures = ['GPT2LMHeadModel'];
    refuses(
      c,
      /architecture "GPT2LMHeadModel" is not supported \(supported: LlamaForCausalLM \(llama\), MistralForCausalLM \(mistral\), Qwen2ForCausalLM \(qwen2\), Qwen3ForCausalLM \(qwen3\), Gemma3ForCausalLM \(gemma3_text\), Gemma2ForCausalLM \(gemma2\), Phi3ForCausalLM \(phi3\)\)/,
    );
    const d = llama32();
    d.model_type = 'gemma';
    refuses(d, /model_type "gemma" is not supported/);
    const e = llama32();
    e.model_type = 'qwen2';
    refuses(e, /architecture "LlamaForCausalLM" does not match model_type "qwen2"/);
  });

  it('hidden_act other than silu', () => {
    const c = llama32();
    c.hidden_act = 'gelu';
    refuses(c, 'config.json: hidden_act "gelu" is not supported (supported: silu)');
  });

  it('missing and non-positive fields', () => {
    for (const f of ['hidden_size', 'vocab_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads']) {
      const c = llama32();
      delete c[f];
      refuses(c, `config.json: missing required field "${f}"`);
    }
    const c = llama32();
    c.num_hidden_layers = 0;
    refuses(c, /num_hidden_layers must be a positive integer, not 0/);
    c.num_hidden_layers = 2.5;
    refuses(c, /num_hidden_layers must be a positive integer, not 2.5/);
    const d = llama32();
    delete d.architectures;
    delete d.model_type;
    refuses(d, /missing required field "architectures"/);
  });

  it('heads not a multiple of kv heads', () => {
    const c = llama32();
    c.num_key_value_heads = 5;
    refuses(c, /num_attention_heads \(32\) must be a multiple of num_key_value_heads \(5\)/);
  });

  it('sliding windows, quantization, attention dropout', () => {
    const q = fixtureConfig('tiny-qwen2');
    q.use_sliding_window = true;
    q.sliding_window = 128;
    refuses(q, /use_sliding_window true is not supported/);
    const l = fixtureConfig('tiny-qwen3');
    l.layer_types = ['full_attention', 'sliding_attention'];
    refuses(l, /layer_types contains "sliding_attention"/);
    const z = llama32();
    z.quantization_config = { quant_method: 'bitsandbytes' };
    refuses(z, /quantization_config is not supported/);
    const a = llama32();
    a.attention_dropout = 0.1;
    refuses(a, /attention_dropout 0.1 is not supported/);
  });

  it('refuses a non-object', () => {
    expect(() => parseModelConfig([], 'x/config.json')).toThrow('x/config.json: must be a JSON object');
  });
});

describe('parseModelConfig: other models', () => {
  it('Mistral 7B v0.1: sliding_window accepted and reported separately', () => {
    const c = {
      architectures: ['MistralForCausalLM'],
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 4096,
      intermediate_size: 14336,
      max_position_embeddings: 32768,
      model_type: 'mistral',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      sliding_window: 4096,
      tie_word_embeddings: false,
      vocab_size: 32000,
    };
    const spec = parseModelConfig(c);
    expect(spec).toMatchObject({ modelType: 'mistral', headDim: 128, qkvBias: false, oBias: false, tieWordEmbeddings: false });
    expect(slidingWindowOf(spec)).toBe(4096);
    expect(attentionContextLimit(spec, false).tokens).toBe(4096);
    expect(attentionContextLimit(spec, true).tokens).toBe(spec.maxPositionEmbeddings);
    expect(slidingWindowOf(parseModelConfig({ ...c, sliding_window: null }))).toBeNull();
    expect(slidingWindowOf(parseModelConfig(llama32()))).toBeNull();
  });

  it('SmolLM2 (llama) defaults; Qwen3 without head_dim uses its default 128; Llama attention_bias', () => {
    const smol = {
      architectures: ['LlamaForCausalLM'],
      hidden_size: 576,
      intermediate_size: 1536,
      model_type: 'llama',
      num_attention_heads: 9,
      num_hidden_layers: 30,
      num_key_value_heads: 3,
      rope_theta: 100000,
      tie_word_embeddings: true,
      vocab_size: 49152,
    };
    const spec = parseModelConfig(smol);
    expect(spec).toMatchObject({ headDim: 64, rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, eosTokenId: null });
    const q3 = fixtureConfig('tiny-qwen3');
    delete q3.head_dim;
    expect(parseModelConfig(q3).headDim).toBe(128);
    expect(parseModelConfig({ ...smol, attention_bias: true, mlp_bias: true })).toMatchObject({ qkvBias: true, oBias: true, mlpBias: true });
    expect(parseModelConfig({ ...fixtureConfig('tiny-qwen3'), attention_bias: true })).toMatchObject({ qkvBias: true, oBias: true });
  });
});

describe('config.json from a stranger', () => {
  it('refuses inherited property names as an architecture', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const c = { ...fixtureConfig('tiny-qwen2'), architectures: [name] };
      expect(() => parseModelConfig(c), name).toThrow(ModelConfigError);
      expect(() => parseModelConfig(c), name).toThrow(`architecture "${name}" is not supported`);
    }
  });

  it('refuses sizes beyond any real model before anything is built from them', () => {
    const cases: Array<[string, number, number]> = [
      ['num_hidden_layers', 1e9, 1024],
      ['hidden_size', 2 ** 30, 65536],
      ['vocab_size', 1e9, 4194304],
      ['intermediate_size', 1e12, 262144],
    ];
    for (const [field, value, cap] of cases) {
      const c = { ...fixtureConfig('tiny-llama'), [field]: value };
      expect(() => parseModelConfig(c, 'm/config.json')).toThrow(`m/config.json: ${field} ${value} is more than the ${cap} this engine accepts`);
    }
  });
});
