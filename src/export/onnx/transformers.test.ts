// An exported fixture folder loaded by Transformers.js (@huggingface/transformers, local files
// only) greedy-generates the same 8 tokens from a chat prompt as the studio's own decoding
// (src/engine/generate on the GPU, same base and trained adapter).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { testGpu } from '../../engine/kernels/testing';
import { readAdapter } from '../../engine/lora/adapter';
import { loadModelFolder } from '../../engine/model/weights';
import { Decoder } from '../../engine/generate/decoder';
import { Generation } from '../../engine/generate/generate';
import { Trainer } from '../../engine/train/trainer';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { openFolderSource } from '../source';
import { exportOnnx } from './export';
import { stageFolder } from './node-output';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const tmp = mkdtempSync(join(tmpdir(), 'onnx-transformers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const NEW_TOKENS = 8;

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = `${tmp}/`;

describe('Transformers.js loads the export and decodes as the studio does', () => {
  for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-qwen3']) {
    it(`${name}: ${NEW_TOKENS} greedy tokens from a chat prompt, the same ids`, async () => {
      const fx = join(root, name);
      const model = nodeFolder(join(fx, 'model'));
      const staged = await stageFolder(join(tmp, name));
      await exportOnnx(await openFolderSource(model, { adapter: nodeFolder(join(fx, 'adapter_final')) }), model, 'none', staged.files);
      await staged.commit();

      const tokenizer = await AutoTokenizer.from_pretrained(name);
      const lm = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32' });
      const text = tokenizer.apply_chat_template([{ role: 'user', content: 'What is the capital of France?' }], { tokenize: false, add_generation_prompt: true }) as string;
      expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
      const inputs = tokenizer(text);
      const prompt = (inputs.input_ids.tolist() as bigint[][])[0].map(Number);
      const out = (await lm.generate({ ...inputs, max_new_tokens: NEW_TOKENS, do_sample: false })) as { tolist(): bigint[][] };
      const eos = 2; // <|im_end|> of the fixtures' config and tokenizer
      let theirs = out.tolist()[0].map(Number).slice(prompt.length);
      if (theirs.at(-1) === eos) theirs = theirs.slice(0, -1);

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
