// Options and shapes the fixtures do not exercise, each against the engine's own forward (GPU) on
// the same config and adapter: RoPE llama3 and yarn, rank_pattern / alpha_pattern, rsLoRA, a layer
// subset and a partial target list; MQA, another head_dim, tied / untied LM head, rms_norm_eps; f32 (merged) and int4 (LoRA branch per site, its own r and scale).
// Each change must be visible: the f32 export of the unchanged fixture (its own adapter, same
// settings and seed) on the same input is farther from the variant's engine logits than the bound.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { testGpu } from '../../engine/kernels/testing';
import { initLoraTensors, readAdapter, writeAdapter } from '../../engine/lora/adapter';
import type { LoraSettings } from '../../engine/lora/config';
import type { ModelSpec } from '../../engine/model/spec';
import { mulberry32 } from '../../util/prng';
import { loadModelFolder } from '../../engine/model/weights';
import { Trainer } from '../../engine/train/trainer';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { openFolderSource } from '../source';
import type { OnnxQuant } from './decoder';
import { exportOnnx, ONNX_DTYPES } from './export';
import { stagedFolder } from '../atomic-sink';
import { FIXTURES, SHAPE_VARIANTS, variantFiles, type Json, type ShapeVariantName, type Variant } from '../fixture-variants-testing';
import { OrtDecoder } from './ort-decoder';

const tmp = mkdtempSync(join(tmpdir(), 'onnx-options-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
ort.env.wasm.numThreads = 1;

/** A fixture variant (its adapter_final is not used) and the random adapter to train on it. */
interface OnnxVariant extends Variant {
  lora: LoraSettings;
}

/** config.json's RoPE as rope_parameters only. */
const setRope = (config: Json, parameters: Json): void => {
  delete config.rope_theta;
  delete config.rope_scaling;
  config.rope_parameters = parameters;
};

/** The random adapter each shape variant trains (the shared list's adapter_final is not used here). */
const SHAPE_LORA: Record<ShapeVariantName, LoraSettings> = {
  'llama, MQA (1 KV head), head_dim 8 (q width 32 < hidden 64), tied embeddings': { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj'], useRslora: false },
  'qwen2, MQA (k/v biases cut too), untied lm_head, rms_norm_eps 1e-2': { r: 4, alpha: 16, dropout: 0, targetModules: ['k_proj', 'v_proj', 'o_proj', 'down_proj'], useRslora: false },
  'qwen3, MQA, head_dim 8 (q/k norms cut), untied lm_head, max_position_embeddings 32': { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], useRslora: false },
  'llama with attention_bias and mlp_bias (q/k biases permuted as their rows), head_dim 8': { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'o_proj', 'gate_proj', 'down_proj'], useRslora: false },
  'mistral (the llama fixture as MistralForCausalLM, sliding_window 32), MQA': { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'o_proj', 'gate_proj', 'down_proj'], useRslora: false },
  'qwen3 with attention_bias (biases on q/k/v/o)': { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'o_proj', 'gate_proj', 'down_proj'], useRslora: false },
  'llama, vocab_size 520 (8 ids no token has), intermediate_size 100': { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false },
  'qwen2, MHA (num_key_value_heads absent: 4 KV heads tiled from 2), head_dim 8 (q/k/v biases cut per head)': { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], useRslora: false },
};

const variants: Record<string, OnnxVariant> = {
  'llama3 RoPE, rank/alpha patterns, rsLoRA, layer 1 only': {
    fixture: 'tiny-llama',
    change: ({ config }) => setRope(config, { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }),
    lora: {
      r: 4,
      alpha: 8,
      dropout: 0,
      targetModules: ['q_proj', 'v_proj', 'down_proj'],
      useRslora: true,
      rankPattern: { v_proj: 2 },
      alphaPattern: { down_proj: 3 },
      layersToTransform: [1],
    },
  },
  'yarn RoPE on Qwen3 (q/k norm, head_dim 32), alpha pattern': {
    fixture: 'tiny-qwen3',
    change: ({ config }) => setRope(config, { rope_type: 'yarn', rope_theta: 1000000, factor: 4, original_max_position_embeddings: 128 }),
    lora: { r: 2, alpha: 4, dropout: 0, targetModules: ['k_proj', 'o_proj', 'gate_proj', 'up_proj'], useRslora: false, alphaPattern: { 'layers\\.0\\..*k_proj': 16 } },
  },
  // Shapes no fixture has, cut from the fixtures' weights, each with its own random adapter.
  ...Object.fromEntries(Object.entries(SHAPE_VARIANTS).map(([name, v]) => [name, { ...v, lora: SHAPE_LORA[name as ShapeVariantName] }])),
};

/** The variant's model folder on disk, and where its adapter goes. */
function makeVariant(key: string, v: Variant): { model: string; adapter: string } {
  const model = join(tmp, key.replace(/\W+/g, '-'), 'model');
  mkdirSync(model, { recursive: true });
  for (const [f, data] of Object.entries(variantFiles(v).model)) writeFileSync(join(model, f), data);
  return { model, adapter: join(model, '..', 'adapter') };
}

/** Writes a random adapter of `lora` for `spec` into `dir` (lora_B non-zero, fixed seeds). */
function writeRandomAdapter(spec: ModelSpec, lora: LoraSettings, dir: string): void {
  const tensors = initLoraTensors(spec, lora, 7);
  const rand = mulberry32(11);
  for (const [k, t] of tensors) if (k.endsWith('lora_B.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = (rand() - 0.5) * 0.2;
  const written = writeAdapter(spec, lora, tensors, null);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), written.config);
  writeFileSync(join(dir, 'adapter_model.safetensors'), written.safetensors);
}

/** Exports `modelDir` (with the adapter in `adapterDir`) to `out` and returns its ONNX decoder's logits on `ids`. */
async function onnxLogits(modelDir: string, adapterDir: string, spec: ModelSpec, quant: OnnxQuant, out: string, ids: number[]): Promise<Float32Array> {
  const model = nodeFolder(modelDir);
  const staged = await stagedFolder(out);
  await exportOnnx(await openFolderSource(model, { adapter: nodeFolder(adapterDir) }), model, quant, staged);
  await staged.commit();
  const decoder = await OrtDecoder.create(ort, new Uint8Array(readFileSync(join(out, 'onnx', ONNX_DTYPES[quant].file))), spec);
  const { logits } = await decoder.forward([ids], [ids.map((_, i) => i)], [ids.map(() => 1)]);
  return logits;
}

/** The largest |a - b| over T positions, on the first `cols` of each position's a / b columns. */
function maxLogitDiff(a: ArrayLike<number>, aV: number, b: ArrayLike<number>, bV: number, T: number, cols: number): number {
  let err = 0;
  for (let t = 0; t < T; t++) for (let i = 0; i < cols; i++) err = Math.max(err, Math.abs(a[t * aV + i] - b[t * bV + i]));
  return err;
}

const BOUND = 2e-3;

describe('ONNX export options against the engine', () => {
  for (const [key, v] of Object.entries(variants)) {
    it(key, async () => {
      const paths = makeVariant(key, v);
      const { spec, weights } = await loadModelFolder(nodeFolder(paths.model));
      writeRandomAdapter(spec, v.lora, paths.adapter);
      const adapter = await readAdapter(nodeFolder(paths.adapter), spec);

      const T = 24;
      const ids = Array.from({ length: T }, (_, i) => (i * 37 + 11) % spec.vocabSize);
      const gpu = await testGpu();
      for (const quant of ['none', 'int4'] as const satisfies readonly OnnxQuant[]) {
        const trainer = await Trainer.create(gpu, { spec, weights }, adapter.settings, DEFAULT_TRAIN, { maxBatch: 1, maxSeq: T, initAdapter: adapter.tensors, quant });
        const inputIds = Int32Array.from(ids);
        const engine = await trainer.logits({ B: 1, T, inputIds, attentionMask: new Int32Array(T).fill(1), labels: inputIds });
        trainer.destroy();

        const logits = await onnxLogits(paths.model, paths.adapter, spec, quant, join(paths.model, '..', `onnx-${quant}`), ids);
        const err = maxLogitDiff(logits, spec.vocabSize, engine, spec.vocabSize, T, spec.vocabSize);
        console.log(`${key} ${quant}: onnx vs engine ${err.toExponential(2)}`);
        expect(err).toBeLessThanOrEqual(BOUND);

        if (quant === 'none') {
          // The change is visible. Every variant is comparable: the graph's inputs (ids, positions,
          // mask) and its logits per position do not depend on the inner shapes the variants change
          // (KV heads, head_dim, biases, intermediate_size); a padded vocab_size only adds logits,
          // compared over the fixture's own vocabulary (the input ids are all below it).
          const fixtureModel = join(FIXTURES, v.fixture, 'model');
          const plain = await loadModelFolder(nodeFolder(fixtureModel));
          if (ids.some((id) => id >= plain.spec.vocabSize)) throw new Error(`${key}: an input id is outside the unchanged fixture's vocabulary`);
          const plainAdapter = join(paths.model, '..', 'plain-adapter');
          writeRandomAdapter(plain.spec, v.lora, plainAdapter);
          const plainLogits = await onnxLogits(fixtureModel, plainAdapter, plain.spec, 'none', join(paths.model, '..', 'onnx-plain'), ids);
          const unchanged = maxLogitDiff(plainLogits, plain.spec.vocabSize, engine, spec.vocabSize, T, Math.min(plain.spec.vocabSize, spec.vocabSize));
          console.log(`${key}: unchanged fixture's onnx vs engine ${unchanged.toExponential(2)}`);
          expect(unchanged).toBeGreaterThan(5 * BOUND);
        }
      }
    }, 600_000);
  }
});
