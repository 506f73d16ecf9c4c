// "Try it" in the worker, on the demo model (public/demo) in Node: the chat-template prompt, the
// base model and the adapter side by side through the engine bridge's trainer, streaming, stop
// tokens, cancellation and refused parameters.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testGpu } from '../engine/kernels/testing';
import { openModelFolder } from '../engine/model/weights';
import { DEFAULT_TRAIN } from '../engine/train/types';
import { nodeFolder } from '../io/node-files';
import type { ModelTokenizer } from '../data';
import { loadTokenizer } from './dataset';
import { createTrainer, type EngineModel, type TrainerLike } from './engine-bridge';
import { GenerateBridge, promptIds, stopTokenIds } from './generate-bridge';
import type { GenerateParams, GenerateSide, TrainSettings } from './protocol';

const demo = resolve(process.cwd(), 'public/demo');
const settings: TrainSettings = {
  lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false },
  train: { ...DEFAULT_TRAIN, maxSteps: 1 },
  batchSize: 1,
  maxLength: 64,
  checkpointEvery: 0,
  validationExamples: 0,
};
const greedy: GenerateParams = { prompt: 'What is the capital of France?', temperature: 0, topP: 1, maxNewTokens: 8, seed: 0 };

describe('GenerateBridge on the demo model', () => {
  let model: EngineModel;
  let tokenizer: ModelTokenizer;
  let trainer: TrainerLike;
  let bridge: GenerateBridge;

  beforeAll(async () => {
    const gpu = await testGpu();
    const folder = nodeFolder(demo);
    model = await openModelFolder(folder);
    tokenizer = await loadTokenizer(folder);
    trainer = await createTrainer(gpu, model, settings, 1, 64);
    bridge = new GenerateBridge(gpu, model, tokenizer);
  });

  afterAll(() => {
    bridge?.destroy();
    trainer?.destroy();
  });

  it('wraps the prompt in the chat template with the assistant cue; stops at end of turn', () => {
    const ids = promptIds(tokenizer, 'Hi');
    expect(tokenizer.decode(ids)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const stops = stopTokenIds(tokenizer, model.spec.eosTokenId);
    expect(stops).toContain(tokenizer.tokenizer.token_to_id('<|im_end|>'));
  });

  it('base only (no run): streams every token, then the final text', async () => {
    const events: Array<[GenerateSide, string, number, boolean]> = [];
    const r = await bridge.generate(greedy, null, (...e) => events.push(e), () => false);
    expect(r.adapter).toBeNull();
    expect(r.base.tokens).toBeGreaterThan(0);
    expect(r.base.text.length).toBeGreaterThan(0);
    expect(events.every((e) => e[0] === 'base')).toBe(true);
    expect(events.at(-1)).toEqual(['base', r.base.text, r.base.tokens, true]);
    expect(events.filter((e) => !e[3]).map((e) => e[2])).toEqual(Array.from({ length: r.base.reason === 'length' ? r.base.tokens - 1 : r.base.tokens }, (_, i) => i + 1));
    console.log(`demo base: ${r.promptTokens} prompt tokens, ${r.base.tokens} new (${r.base.reason}) in ${r.base.ms.toFixed(0)} ms: ${JSON.stringify(r.base.text)}`);
  });

  it('with a fresh adapter (B = 0) both sides agree; with a nonzero B they differ', async () => {
    const run = { trainer, settings };
    const same = await bridge.generate(greedy, run, () => {}, () => false);
    expect(same.adapter).not.toBeNull();
    expect(same.adapter!.text).toBe(same.base.text);

    // Give every B a large value: the adapter now changes the logits.
    const state = await trainer.saveState();
    const params = state.params.map((v, i) => (v === 0 ? Math.sin(i) : v * 40));
    trainer.loadState({ ...state, params });
    const sides = new Set<GenerateSide>();
    const diff = await bridge.generate({ ...greedy, maxNewTokens: 12 }, run, (side) => sides.add(side), () => false);
    expect([...sides].sort()).toEqual(['adapter', 'base']);
    expect(diff.base.text.startsWith(same.base.text)).toBe(true); // greedy: 12 tokens extend the 8
    expect(diff.adapter!.text).not.toBe(diff.base.text);
    trainer.loadState(state);
  });

  it('cancellation ends both sides; bad parameters are refused', async () => {
    let calls = 0;
    const r = await bridge.generate({ ...greedy, maxNewTokens: 50 }, { trainer, settings }, () => {}, () => ++calls > 2);
    expect(r.base.reason).toBe('cancelled');
    expect(r.adapter!.reason).toBe('cancelled');
    expect(r.base.tokens).toBe(1);
    await expect(bridge.generate({ ...greedy, prompt: '  ' }, null, () => {}, () => false)).rejects.toThrow(/prompt is empty/);
    await expect(bridge.generate({ ...greedy, topP: 0, maxNewTokens: 0 }, null, () => {}, () => false)).rejects.toThrow(/top-p .*max new tokens/);
  });
});
