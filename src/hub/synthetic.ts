// Synthetic Llama-family model folders with random weights and real safetensors files, for the
// import tests, the import benchmark and the e2e stand-in Hub. No node: imports (runs anywhere).
import { writeSafetensors, type TensorToWrite } from '../io/safetensors';
import { parseModelConfig } from '../engine/model/config';
import { expectedWeightShapes } from '../engine/model/weights';
import type { ModelSpec } from '../engine/model/spec';
import { randn } from '../engine/kernels/random';

export interface SyntheticModelOptions {
  hidden?: number;
  intermediate?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  vocab?: number;
  tie?: boolean;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Split the weights into this many shards (with model.safetensors.index.json); 1 = single file. */
  shards?: number;
  seed?: number;
  /** Extra tensors the engine does not read (they must stream past). */
  extraTensor?: boolean;
  modelType?: 'llama' | 'qwen2';
}

export interface SyntheticModel {
  config: Record<string, unknown>;
  spec: ModelSpec;
  /** File name → contents. */
  files: Map<string, Uint8Array | string>;
  /** The f32 values written (after rounding to the file's dtype). */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  weightsBytes: number;
}

/** Rounds f32 values to what the file stores (so tests compare against what a reader sees). */
function roundTo(dtype: 'F32' | 'F16' | 'BF16', x: Float32Array): Float32Array {
  if (dtype === 'F32') return x;
  const bytes = writeSafetensors([{ name: 't', dtype, shape: [x.length], data: x }]);
  const n = new DataView(bytes.buffer).getUint32(0, true);
  const raw = bytes.subarray(8 + n);
  const out = new Float32Array(x.length);
  const u16 = new Uint16Array(raw.slice().buffer);
  if (dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < x.length; i++) u32[i] = u16[i] << 16;
  } else {
    for (let i = 0; i < x.length; i++) {
      const h = u16[i];
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    }
  }
  return out;
}

export function syntheticModel(o: SyntheticModelOptions = {}): SyntheticModel {
  const hidden = o.hidden ?? 64;
  const heads = o.heads ?? 4;
  const config: Record<string, unknown> = {
    architectures: [o.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: o.modelType ?? 'llama',
    vocab_size: o.vocab ?? 256,
    hidden_size: hidden,
    intermediate_size: o.intermediate ?? 160,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: heads,
    num_key_value_heads: o.kvHeads ?? heads,
    head_dim: hidden / heads,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 2048,
    tie_word_embeddings: o.tie ?? true,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: (o.dtype ?? 'BF16') === 'BF16' ? 'bfloat16' : (o.dtype ?? 'BF16') === 'F16' ? 'float16' : 'float32',
  };
  const spec = parseModelConfig(config);
  const dtype = o.dtype ?? 'BF16';
  let seed = o.seed ?? 1;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const toWrite: TensorToWrite[] = [];
  for (const [name, shape] of expectedWeightShapes(spec)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm/.test(name);
    const raw = isNorm ? randn(n, seed++, 0.1).map((v) => 1 + v) : randn(n, seed++, 0.02);
    const data = roundTo(dtype, raw);
    tensors.set(name, { shape, data });
    toWrite.push({ name, dtype, shape, data });
  }
  if (o.extraTensor) {
    const data = roundTo(dtype, randn(64, seed++));
    toWrite.push({ name: 'model.rotary_emb.inv_freq', dtype, shape: [64], data });
  }
  const files = new Map<string, Uint8Array | string>();
  files.set('config.json', JSON.stringify(config, null, 2));
  files.set('tokenizer_config.json', JSON.stringify({ bos_token: '<s>', eos_token: '</s>', model_max_length: 2048 }));
  files.set('tokenizer.json', JSON.stringify(minimalTokenizer(spec.vocabSize)));
  const shards = Math.max(1, o.shards ?? 1);
  let weightsBytes = 0;
  if (shards === 1) {
    const bytes = writeSafetensors(toWrite, { format: 'pt' }, 'model.safetensors');
    files.set('model.safetensors', bytes);
    weightsBytes = bytes.byteLength;
  } else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(toWrite.length / shards);
    for (let s = 0; s < shards; s++) {
      const part = toWrite.slice(s * per, (s + 1) * per);
      const fname = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const bytes = writeSafetensors(part, { format: 'pt' }, fname);
      files.set(fname, bytes);
      weightsBytes += bytes.byteLength;
      for (const t of part) weightMap[t.name] = fname;
    }
    files.set('model.safetensors.index.json', JSON.stringify({ metadata: { total_size: weightsBytes }, weight_map: weightMap }, null, 2));
  }
  return { config, spec, files, tensors, weightsBytes };
}

/** A byte-level tokenizer.json small enough for tests (the importer stores it as text). */
function minimalTokenizer(vocab: number): unknown {
  const v: Record<string, number> = {};
  for (let i = 0; i < Math.min(vocab, 256); i++) v[`<0x${i.toString(16).padStart(2, '0').toUpperCase()}>`] = i;
  return { version: '1.0', model: { type: 'BPE', vocab: v, merges: [] }, added_tokens: [] };
}
