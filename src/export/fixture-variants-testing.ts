// Test helper shared by the export tests that go beyond the shared fixtures: a Variant is a fixture
// (model + adapter_final) with its config.json, adapter_config.json and tensors changed in memory.
// The shape changes below (MQA, another head_dim, tied / untied LM head) slice or copy the
// fixture's own tensors, so every variant is a valid HF checkpoint of a shape no fixture has.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors';
import { checkEngineSupports, layerNormName, loraKey, MODEL_TENSORS, projectionWeightName, type Projection } from '../engine/model/arch';
import { parseModelConfig } from '../engine/model/config';

export const FIXTURES = resolve(__dirname, '../../../shared/fixtures/reference');

export type Json = Record<string, unknown>;

/**
 * Whether the engine computes every feature of fixture `name`'s family for `use` (the tests that
 * compare an export with the engine run for those; the others join as the engine learns them).
 */
export function engineComputes(name: string, use: 'training' | 'decoding'): boolean {
  const spec = parseModelConfig(JSON.parse(readFileSync(join(FIXTURES, name, 'model', 'config.json'), 'utf8')));
  try {
    checkEngineSupports(spec, use, (m) => new Error(m));
    return true;
  } catch {
    return false;
  }
}
/** Tensors by name (shape + f32 data); a change may replace, add or delete entries. */
export type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

/** The fixture's files as a change sees them. `adapter` holds adapter_final's tensors. */
export interface FixtureParts {
  config: Json;
  adapterConfig: Json;
  model: Tensors;
  adapter: Tensors;
}

export interface Variant {
  fixture: 'tiny-llama' | 'tiny-qwen2' | 'tiny-qwen3' | 'tiny-gemma3' | 'tiny-gemma2' | 'tiny-phi3';
  change?: (p: FixtureParts) => void;
}

const readTensors = (path: string): Tensors => {
  const st = parseSafetensors(path, new Uint8Array(readFileSync(path)));
  return new Map(st.names().map((n) => [n, { shape: st.index.tensors.get(n)!.shape.slice(), data: st.f32(n) }]));
};
const toSafetensors = (t: Tensors): Uint8Array =>
  writeSafetensors([...t].map(([name, { shape, data }]): TensorToWrite => ({ name, dtype: 'F32', shape, data })));

/** The variant's model folder and adapter folder files (name → contents). */
export function variantFiles(v: Variant): { model: Record<string, Uint8Array | string>; adapter: Record<string, Uint8Array | string> } {
  const base = join(FIXTURES, v.fixture);
  const json = (f: string): Json => JSON.parse(readFileSync(join(base, f), 'utf8')) as Json;
  const parts: FixtureParts = {
    config: json('model/config.json'),
    adapterConfig: json('adapter_final/adapter_config.json'),
    model: readTensors(join(base, 'model/model.safetensors')),
    adapter: readTensors(join(base, 'adapter_final/adapter_model.safetensors')),
  };
  v.change?.(parts);
  return {
    model: {
      'config.json': JSON.stringify(parts.config),
      'model.safetensors': toSafetensors(parts.model),
      'tokenizer.json': readFileSync(join(base, 'model/tokenizer.json'), 'utf8'),
      'tokenizer_config.json': readFileSync(join(base, 'model/tokenizer_config.json'), 'utf8'),
    },
    adapter: { 'adapter_config.json': JSON.stringify(parts.adapterConfig), 'adapter_model.safetensors': toSafetensors(parts.adapter) },
  };
}

// ---- shape changes

const headDimOf = (c: Json): number => (c.head_dim as number | undefined) ?? (c.hidden_size as number) / (c.num_attention_heads as number);

/** Keeps the rows `keep` (in that order, repeats allowed) of a [rows, ...] tensor (a bias: its elements). */
function keepRows(t: Tensors, name: string, keep: number[]): void {
  const x = t.get(name);
  if (!x) return;
  const cols = x.shape.length === 1 ? 1 : x.shape[1];
  const data = new Float32Array(keep.length * cols);
  keep.forEach((r, i) => data.set(x.data.subarray(r * cols, (r + 1) * cols), i * cols));
  t.set(name, { shape: x.shape.length === 1 ? [keep.length] : [keep.length, cols], data });
}

/** Keeps the columns `keep` of a [rows, cols] tensor. */
function keepCols(t: Tensors, name: string, keep: number[]): void {
  const x = t.get(name);
  if (!x) return;
  const [rows, cols] = x.shape;
  const data = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) keep.forEach((c, i) => (data[r * keep.length + i] = x.data[r * cols + c]));
  t.set(name, { shape: [rows, keep.length], data });
}

const layers = (c: Json): number[] => Array.from({ length: c.num_hidden_layers as number }, (_, l) => l);
/** Names from the architecture table: a module's weight or bias, a LoRA matrix, a per-head norm. */
const w = (l: number, m: Projection, kind: 'weight' | 'bias' = 'weight'): string => projectionWeightName(l, m, kind);
const lora = (l: number, m: Projection, ab: 'A' | 'B'): string => loraKey(l, m, ab);
const qkNormNames = (l: number): string[] => (['q_norm', 'k_norm'] as const).map((role) => layerNormName({ modelType: 'qwen3', qkNorm: true }, l, role)!);
const firstN = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** Rows [0, d) of each of `heads` blocks of `size` rows. */
const headRows = (heads: number, size: number, d: number): number[] => Array.from({ length: heads * d }, (_, i) => Math.floor(i / d) * size + (i % d));

/**
 * `n` KV heads: KV head i is the fixture's head i mod its count (k/v weights, biases, lora_B), so
 * 1 is multi-query attention and num_attention_heads is plain multi-head attention.
 */
export function kvHeads(p: FixtureParts, n: number): void {
  const hd = headDimOf(p.config);
  const had = (p.config.num_key_value_heads as number | undefined) ?? (p.config.num_attention_heads as number);
  const keep = Array.from({ length: n * hd }, (_, i) => (Math.floor(i / hd) % had) * hd + (i % hd));
  for (const l of layers(p.config)) {
    for (const m of ['k_proj', 'v_proj'] as const) {
      keepRows(p.model, w(l, m), keep);
      keepRows(p.model, w(l, m, 'bias'), keep);
      keepRows(p.adapter, lora(l, m, 'B'), keep);
    }
  }
  p.config.num_key_value_heads = n;
}

/** An explicit head_dim `d` smaller than the fixture's: each head keeps its first d dims (q/k/v rows, o columns, q/k norms). */
export function headDim(p: FixtureParts, d: number): void {
  const hd = headDimOf(p.config);
  if (d >= hd) throw new Error(`headDim: ${d} must be below the fixture's ${hd}`);
  const q = headRows(p.config.num_attention_heads as number, hd, d);
  const kv = headRows((p.config.num_key_value_heads as number | undefined) ?? (p.config.num_attention_heads as number), hd, d);
  for (const l of layers(p.config)) {
    for (const [m, keep] of [['q_proj', q], ['k_proj', kv], ['v_proj', kv]] as const) {
      keepRows(p.model, w(l, m), keep);
      keepRows(p.model, w(l, m, 'bias'), keep);
      keepRows(p.adapter, lora(l, m, 'B'), keep);
    }
    keepCols(p.model, w(l, 'o_proj'), q);
    keepCols(p.adapter, lora(l, 'o_proj', 'A'), q);
    for (const n of qkNormNames(l)) keepRows(p.model, n, firstN(d));
  }
  p.config.head_dim = d;
}

/** Flips tie_word_embeddings: tied drops the LM head; untied adds one (the embedding's rows shifted by one and halved). */
export function flipTiedEmbeddings(p: FixtureParts): void {
  if (p.config.tie_word_embeddings === true) {
    const e = p.model.get(MODEL_TENSORS.embed.hf)!;
    const [V, C] = e.shape;
    const data = new Float32Array(V * C);
    for (let v = 0; v < V; v++) for (let i = 0; i < C; i++) data[v * C + i] = 0.5 * e.data[((v + 1) % V) * C + i];
    p.model.set(MODEL_TENSORS.lmHead.hf, { shape: [V, C], data });
    p.config.tie_word_embeddings = false;
  } else {
    if (!p.model.delete(MODEL_TENSORS.lmHead.hf)) throw new Error(`flipTiedEmbeddings: the untied fixture has no ${MODEL_TENSORS.lmHead.hf}`);
    p.config.tie_word_embeddings = true;
  }
}

/** Adds a bias to each listed module of every layer (deterministic values of order 0.1), as attention_bias / mlp_bias checkpoints have. */
export function addBiases(p: FixtureParts, modules: Projection[]): void {
  for (const l of layers(p.config)) {
    for (const m of modules) {
      const weight = p.model.get(w(l, m));
      if (!weight) throw new Error(`addBiases: layer ${l} has no ${m}.weight`);
      const data = Float32Array.from({ length: weight.shape[0] }, (_, i) => 0.1 * Math.sin(1 + i * 0.7 + l * 3 + m.length));
      p.model.set(w(l, m, 'bias'), { shape: [weight.shape[0]], data });
    }
  }
}

/** intermediate_size `n` below the fixture's: gate/up keep their first n rows, down_proj its first n columns (adapter too). */
export function intermediateSize(p: FixtureParts, n: number): void {
  const keep = firstN(n);
  for (const l of layers(p.config)) {
    for (const m of ['gate_proj', 'up_proj'] as const) {
      keepRows(p.model, w(l, m), keep);
      keepRows(p.model, w(l, m, 'bias'), keep);
      keepRows(p.adapter, lora(l, m, 'B'), keep);
    }
    keepCols(p.model, w(l, 'down_proj'), keep);
    keepCols(p.adapter, lora(l, 'down_proj', 'A'), keep);
  }
  p.config.intermediate_size = n;
}

/**
 * vocab_size `n` above the tokenizer's, as padded checkpoints have (Qwen2: 151936 rows for 151665
 * tokens): the embedding (and LM head) get rows for ids no token has, copies of the first rows.
 */
export function padVocab(p: FixtureParts, n: number): void {
  for (const name of [MODEL_TENSORS.embed.hf, MODEL_TENSORS.lmHead.hf]) {
    const x = p.model.get(name);
    if (!x) continue;
    const [V, C] = x.shape;
    const data = new Float32Array(n * C);
    data.set(x.data);
    for (let v = V; v < n; v++) data.set(x.data.subarray((v - V) * C, (v - V + 1) * C), v * C);
    p.model.set(name, { shape: [n, C], data });
  }
  p.config.vocab_size = n;
}

// ---- the shape variants both export tests run (ONNX against the engine; GGUF in llama.cpp)

/** Shapes no fixture has, cut from the fixtures' weights (and adapter_final's). */
export const SHAPE_VARIANTS = {
  'llama, MQA (1 KV head), head_dim 8 (q width 32 < hidden 64), tied embeddings': {
    fixture: 'tiny-llama',
    change: (p) => {
      kvHeads(p, 1);
      headDim(p, 8);
      flipTiedEmbeddings(p);
    },
  },
  'qwen2, MQA (k/v biases cut too), untied lm_head, rms_norm_eps 1e-2': {
    fixture: 'tiny-qwen2',
    change: (p) => {
      kvHeads(p, 1);
      flipTiedEmbeddings(p);
      p.config.rms_norm_eps = 1e-2;
    },
  },
  'qwen3, MQA, head_dim 8 (q/k norms cut), untied lm_head, max_position_embeddings 32': {
    fixture: 'tiny-qwen3',
    change: (p) => {
      kvHeads(p, 1);
      headDim(p, 8);
      flipTiedEmbeddings(p);
      p.config.max_position_embeddings = 32;
    },
  },
  'llama with attention_bias and mlp_bias (q/k biases permuted as their rows), head_dim 8': {
    fixture: 'tiny-llama',
    change: (p) => {
      headDim(p, 8);
      addBiases(p, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
      p.config.attention_bias = true;
      p.config.mlp_bias = true;
    },
  },
  'mistral (the llama fixture as MistralForCausalLM, sliding_window 32), MQA': {
    fixture: 'tiny-llama',
    change: (p) => {
      kvHeads(p, 1);
      Object.assign(p.config, { architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 32 });
      delete p.config.attention_bias;
      delete p.config.mlp_bias;
    },
  },
  'qwen3 with attention_bias (biases on q/k/v/o)': {
    fixture: 'tiny-qwen3',
    change: (p) => {
      addBiases(p, ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
      p.config.attention_bias = true;
    },
  },
  'llama, vocab_size 520 (8 ids no token has), intermediate_size 100': {
    fixture: 'tiny-llama',
    change: (p) => {
      padVocab(p, 520);
      intermediateSize(p, 100);
    },
  },
  'qwen2, MHA (num_key_value_heads absent: 4 KV heads tiled from 2), head_dim 8 (q/k/v biases cut per head)': {
    fixture: 'tiny-qwen2',
    change: (p) => {
      kvHeads(p, 4);
      delete p.config.num_key_value_heads;
      headDim(p, 8);
    },
  },
} satisfies Record<string, Variant>;

export type ShapeVariantName = keyof typeof SHAPE_VARIANTS;
