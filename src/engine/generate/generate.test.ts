// The KV-cache decoder against the training forward: greedy generation's logits at every step
// equal the last row of a full forward (Trainer.logits) over the same growing sequence, for a
// Llama, a Qwen3 (q/k norm, head_dim 32), a Gemma 3 (sliding window 8 with its own RoPE base,
// four (1 + w) norms, GeLU-tanh, scaled embeddings), a Gemma 2 (window 6, soft-capped scores and
// logits) and Phi-3 fixtures (fused qkv_proj / gate_up_proj; a Phi-4-mini-shaped one with partial
// rotary and LongRoPE, testdata of train/), without an adapter and with a PEFT adapter whose B is
// nonzero: 7 + 10 tokens run past the Gemma windows. Prompts cover chunked prefill with a padded
// tail chunk and a 1-token prompt.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { maxAbsErr, testGpu } from '../kernels/testing';
import { readAdapter } from '../lora/adapter';
import type { HostTensor, ModelSpec } from '../model/spec';
import { loadModelFolder } from '../model/weights';
import { Trainer } from '../train/trainer';
import { DEFAULT_TRAIN, type LoraHyper } from '../train/types';
import { Decoder } from './decoder';
import { Generation, type GenerateStep } from './generate';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
/** Phi-4-mini-shaped references made by src/engine/train/testdata/phi4-mini-tiny/make_references.py. */
const phi4Tiny = resolve(process.cwd(), 'src/engine/train/testdata/phi4-mini-tiny');
const TOL = 1e-4;
const NEW_TOKENS = 10;

interface Fixture {
  spec: ModelSpec;
  weights: Map<string, HostTensor>;
  adapter: { settings: LoraHyper; tensors: Map<string, HostTensor> };
  prompt: number[];
}

async function loadFixture(dir: string, promptLength = 7): Promise<Fixture> {
  const model = await loadModelFolder(nodeFolder(join(dir, 'model')));
  const adapter = await readAdapter(nodeFolder(join(dir, 'adapter_init')), model.spec);
  const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { input_ids: number[][] };
  return { spec: model.spec, weights: model.weights as Map<string, HostTensor>, adapter, prompt: batch.input_ids[0].slice(0, promptLength) };
}

/** The last row of a full forward over `ids` with the trainer's current LoRA parameters. */
async function fullForwardLast(t: Trainer, ids: number[]): Promise<Float32Array> {
  const T = ids.length;
  const inputIds = Int32Array.from(ids);
  const logits = await t.logits({ B: 1, T, inputIds, attentionMask: new Int32Array(T).fill(1), labels: inputIds });
  const V = t.spec.vocabSize;
  return logits.slice((T - 1) * V, T * V);
}

/** Greedy generation; every step's logits against the full forward of the same sequence. */
async function compareGreedy(decoder: Decoder, reference: Trainer, prompt: number[]): Promise<{ err: number; steps: GenerateStep[] }> {
  const gen = new Generation(decoder, prompt, { temperature: 0, topP: 1, maxNewTokens: NEW_TOKENS, stopIds: [], seed: 0 });
  const steps: GenerateStep[] = [];
  await gen.run((s) => steps.push(s));
  let err = 0;
  for (let k = 0; k < steps.length; k++) {
    const want = await fullForwardLast(reference, [...prompt, ...gen.ids.slice(0, k)]);
    err = Math.max(err, maxAbsErr(steps[k].logits, want));
  }
  return { err, steps };
}

const decoderFixtures: Array<[string, string]> = [
  ['tiny-llama', join(root, 'tiny-llama')],
  ['tiny-qwen3', join(root, 'tiny-qwen3')],
  ['tiny-gemma3', join(root, 'tiny-gemma3')],
  ['tiny-gemma2', join(root, 'tiny-gemma2')],
  ['tiny-phi3', join(root, 'tiny-phi3')],
  // 17 positions at most, within original_max_position_embeddings 32: LongRoPE's short factors.
  ['phi4-mini-tiny/longrope-short', join(phi4Tiny, 'longrope-short')],
];

for (const [name, dir] of decoderFixtures) {
  // CI has the fixtures: a missing one fails in beforeAll (loadFixture) instead of being skipped.
  describe(`KV-cache decoding vs the full forward: ${name}`, () => {
    let fx: Fixture;
    let adapted: Trainer;
    let plain: Trainer;
    let base: Decoder;
    let withAdapter: Decoder;

    beforeAll(async () => {
      const gpu = await testGpu();
      fx = await loadFixture(dir);
      const maxSeq = fx.prompt.length + NEW_TOKENS;
      const options = { maxBatch: 1, maxSeq };
      adapted = await Trainer.create(gpu, fx, fx.adapter.settings, DEFAULT_TRAIN, { ...options, initAdapter: fx.adapter.tensors });
      // PEFT's fresh init (B = 0): the base model's logits through the training forward.
      plain = await Trainer.create(gpu, fx, fx.adapter.settings, DEFAULT_TRAIN, options);
      // Both decoders borrow the adapted trainer's weights; one applies its LoRA parameters.
      const w = adapted.model.weights;
      base = await Decoder.create(gpu, fx.spec, w, null, { maxContext: maxSeq, chunk: 4 });
      withAdapter = await Decoder.create(gpu, fx.spec, w, { layout: adapted.layout, params: adapted.model.params }, { maxContext: maxSeq, chunk: 4 });
    });

    afterAll(() => {
      base?.destroy();
      withAdapter?.destroy();
      adapted?.destroy();
      plain?.destroy();
    });

    it('the adapter has a nonzero B (it changes the logits)', async () => {
      const a = await fullForwardLast(adapted, fx.prompt);
      const b = await fullForwardLast(plain, fx.prompt);
      expect(maxAbsErr(a, b)).toBeGreaterThan(1e-3);
    });

    it(`base model: ${NEW_TOKENS} greedy steps after a 7-token prompt (prefill chunks 4 + 2) match within ${TOL}`, async () => {
      const { err, steps } = await compareGreedy(base, plain, fx.prompt);
      expect(steps.length).toBe(NEW_TOKENS);
      console.log(`${name} base: max |Δlogit| ${err.toExponential(2)} over ${steps.length} steps`);
      expect(err).toBeLessThanOrEqual(TOL);
    });

    it(`with the adapter: ${NEW_TOKENS} greedy steps match within ${TOL}`, async () => {
      const { err, steps } = await compareGreedy(withAdapter, adapted, fx.prompt);
      expect(steps.length).toBe(NEW_TOKENS);
      console.log(`${name} adapter: max |Δlogit| ${err.toExponential(2)} over ${steps.length} steps`);
      expect(err).toBeLessThanOrEqual(TOL);
    });

    it('a one-token prompt (no prefill) and a prompt of exactly one chunk plus one', async () => {
      for (const prompt of [fx.prompt.slice(0, 1), fx.prompt.slice(0, 5)]) {
        const { err } = await compareGreedy(withAdapter, adapted, prompt);
        expect(err).toBeLessThanOrEqual(TOL);
      }
    });

    it('stops at a stop token (not included) and at max new tokens; sampling is seeded', async () => {
      const greedy = await new Generation(base, fx.prompt, { temperature: 0, topP: 1, maxNewTokens: 6, stopIds: [], seed: 0 }).run();
      expect(greedy.reason).toBe('length');
      expect(greedy.ids.length).toBe(6);
      // The first token not seen before it: generation must stop right there.
      const firstNew = greedy.ids.findIndex((id, i) => i > 0 && !greedy.ids.slice(0, i).includes(id));
      const stopAt = Math.max(firstNew, 0);
      const stopped = await new Generation(base, fx.prompt, { temperature: 0, topP: 1, maxNewTokens: 6, stopIds: [greedy.ids[stopAt]], seed: 0 }).run();
      expect(stopped.reason).toBe('stop');
      expect(stopped.ids).toEqual(greedy.ids.slice(0, stopAt));

      const opts = { temperature: 1.5, topP: 0.95, maxNewTokens: 8, stopIds: [], seed: 1234 };
      const s1 = await new Generation(withAdapter, fx.prompt, opts).run();
      const s2 = await new Generation(withAdapter, fx.prompt, opts).run();
      expect(s2.ids).toEqual(s1.ids);
      const s3 = await new Generation(withAdapter, fx.prompt, { ...opts, seed: 99 }).run();
      expect(s3.ids).not.toEqual(s1.ids);
    });

    for (const quant of ['int8', 'int4'] as const) {
      it(`an ${quant} base (as the library stores models): the decoder (quantized GEMV per token) reads it as the trainer does`, async () => {
        const gpu = await testGpu();
        const maxSeq = fx.prompt.length + NEW_TOKENS;
        const q = await Trainer.create(gpu, fx, fx.adapter.settings, DEFAULT_TRAIN, { maxBatch: 1, maxSeq, initAdapter: fx.adapter.tensors, quant });
        const dec = await Decoder.create(gpu, fx.spec, q.model.weights, { layout: q.layout, params: q.model.params }, { maxContext: maxSeq, chunk: 4 });
        try {
          const { err } = await compareGreedy(dec, q, fx.prompt);
          expect(err).toBeLessThanOrEqual(TOL);
        } finally {
          dec.destroy();
          q.destroy();
        }
      });
    }

    it('the context limit ends a generation', async () => {
      const gen = new Generation(base, fx.prompt, { temperature: 0, topP: 1, maxNewTokens: 1000, stopIds: [], seed: 0 });
      const r = await gen.run();
      expect(r.reason).toBe('context');
      expect(fx.prompt.length + r.ids.length).toBe(base.maxContext + 1);
    });
  });
}

// LongRoPE chooses its factors per pass by the pass's length (transformers: max position id + 1).
// A prompt longer than original_max_position_embeddings (16 here) makes every pass of the
// generation take the long factors, so every step equals a full forward over the same sequence.
describe('KV-cache decoding vs the full forward: LongRoPE long factors (phi4-mini-tiny/longrope-long, prompt 17 > 16)', () => {
  it('3 greedy steps after a 17-token prompt, with the adapter, match within 1e-4', async () => {
    const gpu = await testGpu();
    const fx = await loadFixture(join(phi4Tiny, 'longrope-long'), 17);
    expect(fx.spec.rope.type).toBe('longrope');
    expect(fx.spec.rope.originalMaxPositionEmbeddings).toBe(16);
    const maxSeq = 20;
    const t = await Trainer.create(gpu, fx, fx.adapter.settings, DEFAULT_TRAIN, { maxBatch: 1, maxSeq, initAdapter: fx.adapter.tensors });
    const dec = await Decoder.create(gpu, fx.spec, t.model.weights, { layout: t.layout, params: t.model.params }, { maxContext: maxSeq, chunk: 4 });
    try {
      const gen = new Generation(dec, fx.prompt, { temperature: 0, topP: 1, maxNewTokens: 3, stopIds: [], seed: 0 });
      const steps: GenerateStep[] = [];
      await gen.run((s) => steps.push(s));
      expect(steps.length).toBe(3);
      for (let k = 0; k < steps.length; k++) {
        const want = await fullForwardLast(t, [...fx.prompt, ...gen.ids.slice(0, k)]);
        expect(maxAbsErr(steps[k].logits, want), `step ${k}`).toBeLessThanOrEqual(TOL);
      }
    } finally {
      dec.destroy();
      t.destroy();
    }
  });
});
