// Options the fixtures do not exercise, each against the engine's own forward (GPU) on the same
// config and adapter: RoPE llama3 and yarn, rank_pattern / alpha_pattern, rsLoRA, a layer subset
// and a partial target list; f32 (merged) and int4 (LoRA branch per site, its own r and scale).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { testGpu } from '../../engine/kernels/testing';
import { initLoraTensors, readAdapter, writeAdapter } from '../../engine/lora/adapter';
import type { LoraSettings } from '../../engine/lora/config';
import { mulberry32 } from '../../util/prng';
import { loadModelFolder } from '../../engine/model/weights';
import { Trainer } from '../../engine/train/trainer';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { openFolderSource } from '../source';
import type { OnnxQuant } from './decoder';
import { exportOnnx, ONNX_DTYPES } from './export';
import { stageFolder } from './node-output';
import { OrtDecoder } from './ort-decoder';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const tmp = mkdtempSync(join(tmpdir(), 'onnx-options-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
ort.env.wasm.numThreads = 1;

interface Variant {
  fixture: string;
  rope: Record<string, unknown>;
  lora: LoraSettings;
}

const variants: Record<string, Variant> = {
  'llama3 RoPE, rank/alpha patterns, rsLoRA, layer 1 only': {
    fixture: 'tiny-llama',
    rope: { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
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
    rope: { rope_type: 'yarn', rope_theta: 1000000, factor: 4, original_max_position_embeddings: 128 },
    lora: { r: 2, alpha: 4, dropout: 0, targetModules: ['k_proj', 'o_proj', 'gate_proj', 'up_proj'], useRslora: false, alphaPattern: { 'layers\\.0\\..*k_proj': 16 } },
  },
};

/** The fixture's model with another RoPE config, and a random adapter (nonzero B) of `lora`. */
function makeVariant(key: string, v: Variant): { model: string; adapter: string } {
  const src = join(root, v.fixture, 'model');
  const model = join(tmp, key.replace(/\W+/g, '-'), 'model');
  mkdirSync(model, { recursive: true });
  for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(src, f), join(model, f));
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.rope_theta;
  delete config.rope_scaling;
  config.rope_parameters = v.rope;
  writeFileSync(join(model, 'config.json'), JSON.stringify(config));
  return { model, adapter: join(model, '..', 'adapter') };
}

describe('ONNX export options against the engine', () => {
  for (const [key, v] of Object.entries(variants)) {
    it(key, async () => {
      const paths = makeVariant(key, v);
      const { spec, weights } = await loadModelFolder(nodeFolder(paths.model));
      expect(spec.rope.type).toBe(v.rope.rope_type);
      const tensors = initLoraTensors(spec, v.lora, 7);
      const rand = mulberry32(11);
      for (const [k, t] of tensors) if (k.endsWith('lora_B.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = (rand() - 0.5) * 0.2;
      const written = writeAdapter(spec, v.lora, tensors, null);
      mkdirSync(paths.adapter, { recursive: true });
      writeFileSync(join(paths.adapter, 'adapter_config.json'), written.config);
      writeFileSync(join(paths.adapter, 'adapter_model.safetensors'), written.safetensors);
      const adapter = await readAdapter(nodeFolder(paths.adapter), spec);

      const T = 24;
      const ids = Array.from({ length: T }, (_, i) => (i * 37 + 11) % spec.vocabSize);
      const positions = [ids.map((_, i) => i)];
      const mask = [ids.map(() => 1)];
      const gpu = await testGpu();
      for (const quant of ['none', 'int4'] as const satisfies readonly OnnxQuant[]) {
        const trainer = await Trainer.create(gpu, { spec, weights }, adapter.settings, DEFAULT_TRAIN, { maxBatch: 1, maxSeq: T, initAdapter: adapter.tensors, quant });
        const inputIds = Int32Array.from(ids);
        const engine = await trainer.logits({ B: 1, T, inputIds, attentionMask: new Int32Array(T).fill(1), labels: inputIds });
        trainer.destroy();

        const out = join(paths.model, '..', `onnx-${quant}`);
        const model = nodeFolder(paths.model);
        const staged = await stageFolder(out);
        await exportOnnx(await openFolderSource(model, { adapter: nodeFolder(paths.adapter) }), model, quant, staged.files);
        await staged.commit();
        const decoder = await OrtDecoder.create(ort, new Uint8Array(readFileSync(join(out, 'onnx', ONNX_DTYPES[quant].file))), spec);
        const { logits } = await decoder.forward([ids], positions, mask);
        let err = 0;
        for (let i = 0; i < engine.length; i++) err = Math.max(err, Math.abs(logits[i] - engine[i]));
        console.log(`${key} ${quant}: onnx vs engine ${err.toExponential(2)}`);
        expect(err).toBeLessThanOrEqual(2e-3);
      }
    }, 600_000);
  }
});
