// An exported fixture folder loaded by Transformers.js (@huggingface/transformers, local files
// only): its logits on the fixture batch, with the inputs Transformers.js prepares itself
// (position_ids from the mask, Gemma 3's counted from 1; the cache names), within 2e-3 of
// PyTorch's after training; and it greedy-generates the same 8 tokens from a chat prompt as the
// studio's own decoding (src/engine/generate on the GPU, same base and trained adapter), for every
// family the engine decodes (checkEngineSupports: the others join as the engine computes them).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env, Tensor } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { testGpu } from '../../engine/kernels/testing';
import { readAdapter } from '../../engine/lora/adapter';
import { loadModelFolder, loadModelSpec } from '../../engine/model/weights';
import * as ort from 'onnxruntime-web';
import { OrtDecoder } from './ort-decoder';
import { engineComputes } from '../fixture-variants-testing';
import { parseSafetensors } from '../../io/safetensors';
import { Decoder } from '../../engine/generate/decoder';
import { Generation } from '../../engine/generate/generate';
import { Trainer } from '../../engine/train/trainer';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { openFolderSource } from '../source';
import { exportOnnx } from './export';
import { stagedFolder } from '../atomic-sink';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const tmp = mkdtempSync(join(tmpdir(), 'onnx-transformers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const NEW_TOKENS = 8;

ort.env.wasm.numThreads = 1;
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = `${tmp}/`;

const FIXTURES = ['tiny-llama', 'tiny-qwen2', 'tiny-qwen3', 'tiny-gemma3', 'tiny-gemma2', 'tiny-phi3'];

/** Exports fixture `name` (base + adapter_final, f32) once into tmp/name, the folder Transformers.js loads by that name. */
const exported = new Map<string, Promise<void>>();
function exportFixture(name: string): Promise<void> {
  let p = exported.get(name);
  if (!p) {
    p = (async () => {
      const fx = join(root, name);
      const model = nodeFolder(join(fx, 'model'));
      const staged = await stagedFolder(join(tmp, name));
      await exportOnnx(await openFolderSource(model, { adapter: nodeFolder(join(fx, 'adapter_final')) }), model, 'none', staged);
      await staged.commit();
    })();
    exported.set(name, p);
  }
  return p;
}

describe('Transformers.js runs the export as PyTorch computes it', () => {
  for (const name of FIXTURES) {
    it(`${name}: logits on the fixture batch (Transformers.js's own position_ids) within 2e-3 of logits_after_training`, async () => {
      await exportFixture(name);
      const fx = join(root, name);
      const batch = JSON.parse(readFileSync(join(fx, 'batch.json'), 'utf8')) as { input_ids: number[][]; attention_mask: number[][] };
      const ref = parseSafetensors('reference.safetensors', new Uint8Array(readFileSync(join(fx, 'reference.safetensors'))));
      const want = ref.f32('logits_after_training');
      const [B, T, V] = ref.index.tensors.get('logits_after_training')!.shape;
      const lm = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32' });
      const i64 = (rows: number[][]): Tensor => new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [B, T]);
      const out = (await lm({ input_ids: i64(batch.input_ids), attention_mask: i64(batch.attention_mask) })) as { logits: Tensor };
      const got = out.logits.data as Float32Array;
      expect(out.logits.dims).toEqual([B, T, V]);
      let err = 0;
      for (let i = 0; i < B * T; i++) {
        if (!batch.attention_mask[Math.floor(i / T)][i % T]) continue;
        for (let v = 0; v < V; v++) err = Math.max(err, Math.abs(got[i * V + v] - want[i * V + v]));
      }
      console.log(`${name}: transformers.js max |Δlogit| vs logits_after_training ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(2e-3);
      await lm.dispose();
    }, 600_000);
  }
});

/** Transformers.js's 8 greedy ids (its own generate: cache, position_ids) after a chat prompt, on fixture `name`'s export. */
async function transformersGreedy(name: string): Promise<{ prompt: number[]; theirs: number[]; eos: number }> {
  await exportFixture(name);
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const lm = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32' });
  const text = tokenizer.apply_chat_template([{ role: 'user', content: 'What is the capital of France?' }], { tokenize: false, add_generation_prompt: true }) as string;
  expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
  const inputs = tokenizer(text);
  const prompt = (inputs.input_ids.tolist() as bigint[][])[0].map(Number);
  const out = (await lm.generate({ ...inputs, max_new_tokens: NEW_TOKENS, do_sample: false })) as { tolist(): bigint[][] };
  await lm.dispose();
  const eos = 2; // <|im_end|> of the fixtures' config and tokenizer
  let theirs = out.tolist()[0].map(Number).slice(prompt.length);
  if (theirs.at(-1) === eos) theirs = theirs.slice(0, -1);
  return { prompt, theirs, eos };
}

describe("Transformers.js decodes the export as the studio's ONNX runner does", () => {
  for (const name of FIXTURES) {
    it(`${name}: ${NEW_TOKENS} greedy tokens from a chat prompt (past the sliding window on Gemma), the same ids as OrtDecoder.generate`, async () => {
      const { prompt, theirs, eos } = await transformersGreedy(name);
      const spec = await loadModelSpec(nodeFolder(join(root, name, 'model')));
      const ours = await (await OrtDecoder.create(ort, new Uint8Array(readFileSync(join(tmp, name, 'onnx', 'model.onnx'))), spec)).generate(prompt, {
        temperature: 0,
        topP: 1,
        maxNewTokens: NEW_TOKENS,
        stopIds: [eos],
        seed: 0,
      });
      console.log(`${name}: transformers.js ${JSON.stringify(theirs)}, OrtDecoder ${JSON.stringify(ours.ids)} (prompt ${prompt.length} tokens)`);
      expect(theirs.length).toBeGreaterThan(0);
      expect(theirs).toEqual(ours.ids);
    }, 600_000);
  }
});

describe('Transformers.js loads the export and decodes as the studio does', () => {
  for (const name of FIXTURES) {
    it.runIf(engineComputes(name, 'decoding'))(`${name}: ${NEW_TOKENS} greedy tokens from a chat prompt, the same ids (once the engine decodes the family)`, async () => {
      const fx = join(root, name);
      const model = nodeFolder(join(fx, 'model'));
      const { prompt, theirs, eos } = await transformersGreedy(name);

      const gpu = await testGpu();
      const { spec, weights } = await loadModelFolder(model);
      const adapter = await readAdapter(nodeFolder(join(fx, 'adapter_final')), spec);
      const maxContext = prompt.length + NEW_TOKENS + 1;
      const trainer = await Trainer.create(gpu, { spec, weights }, adapter.settings, DEFAULT_TRAIN, { maxBatch: 1, maxSeq: maxContext, initAdapter: adapter.tensors });
      const decoder = await Decoder.create(gpu, spec, trainer.model.weights, { layout: trainer.layout, params: trainer.model.params }, { maxContext });
      try {
        const ours = await new Generation(decoder, prompt, { temperature: 0, topP: 1, maxNewTokens: NEW_TOKENS, stopIds: [eos], seed: 0 }).run();
        console.log(`${name}: transformers.js ${JSON.stringify(theirs)}, studio ${JSON.stringify(ours.ids)}`);
        expect(theirs.length).toBeGreaterThan(0);
        expect(theirs).toEqual(ours.ids);
      } finally {
        decoder.destroy();
        trainer.destroy();
      }
    }, 600_000);
  }
});
