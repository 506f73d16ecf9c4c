// Settings and shapes the shared fixtures do not cover (RoPE llama3 / yarn, rsLoRA, alpha
// patterns; MQA, another head_dim, tied / untied LM head, rms_norm_eps), checked the same way: the
// fixture under a changed config.json or adapter_config.json, its tensors cut to the new shape,
// exported to GGUF and run in llama.cpp, against the studio's engine (itself held to PyTorch by the
// reference tests) on the same inputs. Each variant is also exported merged as F16 / Q8_0 / Q4_0 and
// held to the engine's int8 / int4 loss bounds, its tensor types read back from the file.
import { readTokenizerFiles } from '../../data/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama } from 'node-llama-cpp';
import { gguf, GGMLQuantizationType } from '@huggingface/gguf';
import { llamaCppProbs, maxDiff, nextTokenLoss, QUANT_LOSS_BOUNDS, softmax, writeFirstFile } from './llama-cpp-testing';
import { createNodeGpu } from '../../gpu/node';
import type { Gpu } from '../../gpu/gpu';
import { loadModelWeights, memoryFolder, type ModelFolder } from '../../engine/model/weights';
import { parseModelConfig } from '../../engine/model/config';
import { readAdapter } from '../../engine/lora/adapter';
import { Trainer } from '../../engine/train/trainer';
import { DEFAULT_TRAIN, type Batch } from '../../engine/train/types';
import { openMemorySource } from '../source';
import { FIXTURES, SHAPE_VARIANTS, variantFiles, type ShapeVariantName, type Variant } from '../fixture-variants-testing';
import { planGgufExport, type GgufFormat } from './export';
import type { ExportType } from './ggml-types';

let llama: Llama;
let dir: string;
let gpu: Gpu;
beforeAll(async () => {
  gpu = await createNodeGpu(); // one device: the second engine run reuses its compiled pipelines
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  dir = mkdtempSync(join(tmpdir(), 'gguf-variants-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  gpu?.destroy();
});

const ids = (fixture: string): number[] => (JSON.parse(readFileSync(join(FIXTURES, fixture, 'batch.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0];

async function folders(v: Variant): Promise<{ model: ModelFolder; adapter: ModelFolder }> {
  const files = variantFiles(v);
  return { model: memoryFolder(v.fixture, files.model), adapter: memoryFolder('adapter', files.adapter) };
}

/** The engine's next-token probabilities for `tokens` (one row) with the variant's adapter. */
async function engineProbs(v: Variant, tokens: number[]): Promise<Float64Array[]> {
  const { model, adapter } = await folders(v);
  const spec = parseModelConfig(JSON.parse(await model.text('config.json')));
  const weights = await loadModelWeights(model, spec);
  const a = await readAdapter(adapter, spec);
  {
    const T = tokens.length;
    const trainer = await Trainer.create(gpu, { spec, weights }, a.settings, { ...DEFAULT_TRAIN, maxSteps: 1 }, { maxBatch: 1, maxSeq: T, initAdapter: a.tensors, quant: 'none' });
    const batch: Batch = { B: 1, T, inputIds: Int32Array.from(tokens), attentionMask: new Int32Array(T).fill(1), labels: Int32Array.from(tokens) };
    const logits = await trainer.logits(batch);
    trainer.destroy();
    const V = spec.vocabSize;
    return tokens.map((_, t) => softmax(logits.subarray(t * V, (t + 1) * V)));
  }
}

/** The engine's probabilities per variant, computed once for the F32 and the quantized checks. */
const engineRuns = new Map<Variant, Promise<Float64Array[]>>();
const engineProbsOf = (v: Variant): Promise<Float64Array[]> => {
  if (!engineRuns.has(v)) engineRuns.set(v, engineProbs(v, ids(v.fixture)));
  return engineRuns.get(v)!;
};

/** Writes the export's GGUF file; its path and the export's warnings. */
async function exportWithWarnings(v: Variant, format: GgufFormat, withAdapter: boolean, tag: string, type: ExportType): Promise<{ path: string; warnings: string[] }> {
  const { model, adapter } = await folders(v);
  const spec = parseModelConfig(JSON.parse(await model.text('config.json')));
  const src = await openMemorySource(spec, await loadModelWeights(model, spec), { name: v.fixture, adapter: withAdapter ? adapter : null });
  const plan = planGgufExport(src, await readTokenizerFiles(model), format, type);
  return { path: await writeFirstFile(plan, join(dir, `${tag.replace(/[^\w.-]+/g, '_')}-${type}-${plan.files[0].name}`)), warnings: plan.warnings };
}

const exportVariant = async (v: Variant, format: GgufFormat, withAdapter: boolean, tag: string): Promise<string> => (await exportWithWarnings(v, format, withAdapter, tag, 'f32')).path;

/**
 * The GGUF names of the matrices whose HF rows (ggml's ne[0]) are not a multiple of ggml's 32-wide
 * blocks, from the variant's config.json: they cannot be Q8_0 / Q4_0.
 */
function unblockable(v: Variant): Set<string> {
  const c = JSON.parse(variantFiles(v).model['config.json'] as string) as Record<string, number>;
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const odd = (n: number): boolean => n % 32 !== 0;
  const names = new Set<string>();
  if (odd(c.hidden_size)) throw new Error(`unblockable: hidden_size ${c.hidden_size}: every matrix would fall back; no variant has it`);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    if (odd(c.num_attention_heads * headDim)) names.add(`blk.${l}.attn_output.weight`);
    if (odd(c.intermediate_size)) names.add(`blk.${l}.ffn_down.weight`);
  }
  return names;
}

/** llama.cpp's probabilities for one row. */
const probs = async (modelPath: string, tokens: number[], vocab: number, lora?: string): Promise<Float64Array[]> =>
  (await llamaCppProbs(llama, modelPath, [tokens], vocab, lora))[0];

const diff = (a: Float64Array[], b: Float64Array[]): number => maxDiff([a], [b]);

// Two combined variants keep the engine runs (SwiftShader) few: llama's interleaved RoPE with
// llama3 scaling (the rope_freqs tensor) and an rsLoRA adapter with an alpha pattern (folded into
// lora_b); qwen2's NEOX RoPE with yarn and an explicit attention_factor.
const QWEN3_BIAS: ShapeVariantName = 'qwen3 with attention_bias (biases on q/k/v/o)';
const MISTRAL_WINDOW: ShapeVariantName = 'mistral (the llama fixture as MistralForCausalLM, sliding_window 32), MQA';
const variants: Record<string, Variant> = {
  'llama, rope llama3, rsLoRA + alpha_pattern': {
    fixture: 'tiny-llama',
    change: ({ config, adapterConfig }) => {
      config.rope_parameters = { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
      adapterConfig.use_rslora = true;
      adapterConfig.alpha_pattern = { 'layers.1.self_attn.v_proj': 4, 'mlp.down_proj': 2 };
    },
  },
  'qwen2, rope yarn x4 with attention_factor 1.5': {
    fixture: 'tiny-qwen2',
    change: ({ config }) => void (config.rope_scaling = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 128, attention_factor: 1.5 }),
  },
  // Shapes no fixture has; llama.cpp cannot load the qwen3 attention_bias one, and its llama
  // architecture does not compute Mistral's sliding window (their refusals are below).
  ...Object.fromEntries(Object.entries(SHAPE_VARIANTS).filter(([name]) => name !== QWEN3_BIAS && name !== MISTRAL_WINDOW)),
};

describe('GGUF of settings beyond the fixtures, in llama.cpp against the engine', () => {
  for (const [name, v] of Object.entries(variants)) {
    it(`${name}: merged F32 and base + adapter GGUF within 1e-3 of the engine`, async () => {
      const tokens = ids(v.fixture);
      const want = await engineProbsOf(v);
      const V = want[0].length;
      const merged = diff(await probs(await exportVariant(v, 'gguf', true, name), tokens, V), want);
      const withAdapter = diff(
        await probs(await exportVariant(v, 'gguf', false, name), tokens, V, await exportVariant(v, 'gguf-adapter', true, name)),
        want,
      );
      // The same export without the variant's change must be farther off: the change is visible
      // (over the fixture's own vocabulary, which a padded variant extends).
      const fixtureV = (JSON.parse(readFileSync(join(FIXTURES, v.fixture, 'model/config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
      const plain = diff(await probs(await exportVariant({ fixture: v.fixture }, 'gguf', true, `${name}-plain`), tokens, fixtureV), want);
      console.log(JSON.stringify({ variant: name, merged, base_plus_adapter: withAdapter, unchanged_export: plain }));
      expect(merged).toBeLessThanOrEqual(1e-3);
      expect(withAdapter).toBeLessThanOrEqual(1e-3);
      expect(plain).toBeGreaterThan(5e-3);
    });

    it(`${name}: merged F16 / Q8_0 / Q4_0 within the engine's int8 / int4 loss bounds, tensor types as the export says`, async () => {
      const tokens = ids(v.fixture);
      const want = await engineProbsOf(v);
      const engineLoss = nextTokenLoss([want], [tokens]);
      const fallback = unblockable(v);
      const measured: Record<string, { loss_rel: number; max_prob_diff: number; f16_fallback: number }> = {};
      for (const type of ['f16', 'q8_0', 'q4_0'] as const) {
        const { path, warnings } = await exportWithWarnings(v, 'gguf', true, name, type);
        // The file as read back: 1-D tensors F32, matrices of the requested type, those with rows
        // ggml cannot block F16 (and the export's warning counts them).
        const want2d = { f16: GGMLQuantizationType.F16, q8_0: GGMLQuantizationType.Q8_0, q4_0: GGMLQuantizationType.Q4_0 }[type];
        const { tensorInfos } = await gguf(path, { allowLocalFile: true });
        const expected = (t: (typeof tensorInfos)[number]): GGMLQuantizationType =>
          t.n_dims === 1 ? GGMLQuantizationType.F32 : fallback.has(t.name) ? GGMLQuantizationType.F16 : want2d;
        expect(tensorInfos.map((t) => [t.name, t.dtype])).toEqual(tensorInfos.map((t) => [t.name, expected(t)]));
        const warned = warnings.filter((w) => w.includes('not a multiple of 32'));
        expect(warned).toEqual(type !== 'f16' && fallback.size ? [expect.stringMatching(new RegExp(`^${fallback.size} tensors .* written F16: ${[...fallback][0].replace(/\./g, '\\.')}`))] : []);
        // What llama.cpp loads and computes from that file.
        const p = await probs(path, tokens, want[0].length);
        measured[type] = { loss_rel: Math.abs(nextTokenLoss([p], [tokens]) - engineLoss) / engineLoss, max_prob_diff: diff(p, want), f16_fallback: type === 'f16' ? 0 : fallback.size };
      }
      console.log(JSON.stringify({ variant: name, ...measured }));
      for (const type of ['f16', 'q8_0', 'q4_0'] as const) expect(measured[type].loss_rel).toBeLessThanOrEqual(QUANT_LOSS_BOUNDS[type]);
      expect(measured.f16.max_prob_diff).toBeLessThanOrEqual(1e-3);
    });
  }

  // llama.cpp's qwen3 loads no o_proj bias (an extra tensor fails the load), and the bias cannot be
  // folded elsewhere: the export must say so rather than write a file llama.cpp rejects.
  it('mistral with a sliding_window narrower than its context is refused by name (the one window policy)', async () => {
    const v = SHAPE_VARIANTS[MISTRAL_WINDOW];
    await expect(exportVariant(v, 'gguf', true, 'mistral-window')).rejects.toThrow(/MistralForCausalLM \(model_type mistral\) needs sliding_window \(sliding-window attention\), which the GGUF exporter \(llama.cpp's llama\) does not compute yet/);
    // The same model with the window as wide as its context is plain causal attention, and exports.
    const wide: Variant = { ...v, change: (p) => (v.change(p), void (p.config.sliding_window = p.config.max_position_embeddings)) };
    await expect(exportVariant(wide, 'gguf', true, 'mistral-wide')).resolves.toBeDefined();
  });

  it('qwen3 with attention_bias (an o_proj bias) is refused by name', async () => {
    const v = SHAPE_VARIANTS[QWEN3_BIAS];
    await expect(exportVariant(v, 'gguf', true, 'qwen3-bias')).rejects.toThrow(/Qwen3ForCausalLM with attention_bias on o_proj has no llama.cpp equivalent/);
  });
});
