// Synthetic Llama-family model folders with random weights and real safetensors files, for the
// import tests, the import benchmark and the e2e stand-in Hub. No node: imports (runs anywhere).
import { checkRange, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../io/safetensors';
import { f32ToF16Bits } from '../io/dtype';
import type { ImportSource } from './import';
import { parseModelConfig } from '../engine/model/config';
import { expectedWeightShapes } from '../engine/model/weights';
import type { ModelSpec } from '../engine/model/spec';
import { ARCH_TABLE } from '../engine/model/arch';
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

function syntheticConfig(o: SyntheticModelOptions): { config: Record<string, unknown>; spec: ModelSpec } {
  const hidden = o.hidden ?? 64;
  const heads = o.heads ?? 4;
  const config: Record<string, unknown> = {
    architectures: [ARCH_TABLE[o.modelType ?? 'llama'].architecture],
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
  return { config, spec: parseModelConfig(config) };
}

export function syntheticModel(o: SyntheticModelOptions = {}): SyntheticModel {
  const { config, spec } = syntheticConfig(o);
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

/**
 * A model of any size whose safetensors file is never held anywhere: config.json, and one
 * model.safetensors (16-bit) whose header is computed and whose bytes are generated on demand for
 * any range (random-looking bf16/f16 values: matrices around ±0.004..0.06, norms around 1). The
 * load benchmark imports it through the real pipeline without a model-sized buffer in memory.
 */
export function streamedSyntheticSource(o: SyntheticModelOptions & { dtype?: 'BF16' | 'F16' }): ImportSource & { spec: ModelSpec; weightsBytes: number } {
  const { config, spec } = syntheticConfig(o);
  const dtype = o.dtype ?? 'BF16';
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const spans: Array<{ begin: number; end: number; norm: boolean; seed: number }> = [];
  let offset = 0;
  let seed = o.seed ?? 1;
  for (const [name, shape] of expectedWeightShapes(spec)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    spans.push({ begin: offset, end: offset + bytes, norm: /norm/.test(name), seed: seed++ });
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + n).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  const size = head.byteLength + offset;
  const file = 'model.safetensors';
  const read = async (at: number, length: number): Promise<Uint8Array> => {
    checkRange(file, size, at, length);
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const p = at + i;
      if (p < head.byteLength) out[i] = head[p];
    }
    // Data: whole 16-bit values (reads start at even offsets inside the data, as the importer's do).
    const d0 = Math.max(at, head.byteLength) - head.byteLength;
    const d1 = at + length - head.byteLength;
    const u16 = new Uint16Array(out.buffer, 0, Math.floor(length / 2));
    const shift = (head.byteLength - at) / 2;
    for (const s of spans) {
      const b = Math.max(s.begin, d0);
      const e = Math.min(s.end, d1);
      if (b >= e) continue;
      for (let v = b / 2; v < e / 2; v++) {
        let h = Math.imul((v - s.begin / 2) ^ Math.imul(s.seed, 0x9e3779b1), 0x85ebca6b);
        h ^= h >>> 13;
        h = Math.imul(h, 0xc2b2ae35);
        h ^= h >>> 16;
        // bf16: sign, exponent 2^-8..2^-5 (matrices) or 2^0 (norms), 7 random mantissa bits.
        const bits = s.norm ? 0x3f80 | (h & 0x7) : ((h >>> 15) & 0x8000) | ((0x77 + ((h >>> 7) & 3)) << 7) | (h & 0x7f);
        u16[v + shift] = dtype === 'BF16' ? bits : f32ToF16Bits(new Float32Array(new Uint32Array([bits << 16]).buffer)[0]);
      }
    }
    return out;
  };
  const texts = new Map<string, string>([
    ['config.json', JSON.stringify(config)],
    ['tokenizer.json', JSON.stringify(minimalTokenizer(spec.vocabSize))],
  ]);
  const entry = { name: file, size, sha256: null };
  return {
    kind: 'local',
    id: 'synthetic',
    revision: null,
    spec,
    weightsBytes: offset,
    text: async (f) => texts.get(f) ?? null,
    stat: async (f) => (f === file ? entry : null),
    header: async () => readSafetensorsHeader({ name: file, size, read }),
    open: async (_f, options) => {
      let pos = options.resume?.offset ?? 0;
      return {
        name: file,
        size,
        read: async (at, length) => {
          pos = Math.max(pos, at + length);
          return read(at, length);
        },
        checkpoint: () => ({ offset: pos, hash: null }),
        finish: async () => {},
        close: async () => {},
      };
    },
  };
}
