import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_ARCHITECTURES } from '../engine/model/config';
import { filterListings, fetchModelSpec, HubUnreachableError, searchHub, type ListedEntry } from './search';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';

const entry = (name: string, architectures: unknown, extra: Partial<ListedEntry> = {}): ListedEntry => ({
  name,
  downloads: 10,
  gated: false,
  private: false,
  config: architectures === undefined ? undefined : { architectures },
  ...extra,
});

describe('filterListings', () => {
  it('keeps the architectures the engine trains and hides the rest, naming them', () => {
    const r = filterListings(
      [
        entry('a/llama', ['LlamaForCausalLM'], { safetensors: { total: 135_000_000 }, downloads: 7 }),
        entry('b/gpt2', ['GPT2LMHeadModel']),
        entry('c/qwen3', ['Qwen3ForCausalLM'], { gated: 'manual', private: true }),
        entry('d/gguf-only', undefined),
        entry('e/proto', ['constructor']),
        entry('f/bad', 'LlamaForCausalLM'),
      ],
      SUPPORTED_ARCHITECTURES,
    );
    expect(r.hits).toEqual([
      { id: 'a/llama', architecture: 'LlamaForCausalLM', params: 135_000_000, downloads: 7, gated: false, private: false },
      { id: 'c/qwen3', architecture: 'Qwen3ForCausalLM', params: null, downloads: 10, gated: true, private: true },
    ]);
    expect(r.hidden).toEqual([
      { id: 'b/gpt2', architecture: 'GPT2LMHeadModel' },
      { id: 'd/gguf-only', architecture: null },
      { id: 'e/proto', architecture: 'constructor' },
      { id: 'f/bad', architecture: null },
    ]);
  });

  it("lists exactly the engine's table of architectures (config.ts), so a family the engine adds (Gemma 3, Gemma 2, Phi-3) is listed with no change here", () => {
    const supported = Object.keys(SUPPORTED_ARCHITECTURES);
    const others = ['Gemma3ForConditionalGeneration', 'Gemma3nForCausalLM', 'Phi3SmallForCausalLM', 'GPT2LMHeadModel'].filter((a) => !supported.includes(a));
    const r = filterListings([...supported, ...others].map((a) => entry(`org/${a}`, [a])), SUPPORTED_ARCHITECTURES);
    expect(r.hits.map((h) => h.architecture)).toEqual(supported);
    expect(r.hidden.map((h) => h.architecture)).toEqual(others);
    // A table without an architecture hides it: the list is read, not copied.
    const { LlamaForCausalLM: _, ...withoutLlama } = SUPPORTED_ARCHITECTURES;
    expect(filterListings([entry('a/llama', ['LlamaForCausalLM'])], withoutLlama).hits).toEqual([]);
  });

  it('reads no parameter count from a non-number', () => {
    const r = filterListings([entry('a/x', ['MistralForCausalLM'], { safetensors: { total: '5' } })], SUPPORTED_ARCHITECTURES);
    expect(r.hits[0].params).toBeNull();
  });
});

describe('searchHub against the stand-in Hub', () => {
  let hub: StandInHub;
  const config = JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 256,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
  });
  beforeAll(async () => {
    hub = await startStandInHub({
      models: { 'org/tiny-llama': { files: new Map([['config.json', config]]) } },
      api: {
        listed: [
          { id: 'org/tiny-llama', downloads: 50, architectures: ['LlamaForCausalLM'], parameters: 41_000 },
          { id: 'org/tiny-gpt2', downloads: 90, architectures: ['GPT2LMHeadModel'] },
          { id: 'other/unrelated', downloads: 5, architectures: ['LlamaForCausalLM'] },
        ],
      },
    });
  });
  afterAll(() => hub.close());

  const opts = () => ({ hubUrl: hub.url, token: null, trusted: [hub.url], signal: new AbortController().signal });

  it('asks /api/models with the query and keeps the trainable matches', async () => {
    const r = await searchHub('tiny', SUPPORTED_ARCHITECTURES, opts());
    expect(r.hits.map((h) => [h.id, h.params])).toEqual([['org/tiny-llama', 41_000]]);
    expect(r.hidden).toEqual([{ id: 'org/tiny-gpt2', architecture: 'GPT2LMHeadModel' }]);
    expect(hub.api.apiLog.at(-1)).toMatchObject({ route: 'models', auth: false, status: 200 });
  });

  it('reads a result config.json into a spec', async () => {
    const spec = await fetchModelSpec('org/tiny-llama', opts());
    expect([spec.hiddenSize, spec.numLayers, spec.vocabSize]).toEqual([64, 2, 256]);
  });

  it('names an unreachable Hub', async () => {
    const gone = await startStandInHub({ models: {} });
    const url = gone.url;
    await gone.close();
    await expect(searchHub('tiny', SUPPORTED_ARCHITECTURES, { ...opts(), hubUrl: url, trusted: [url] })).rejects.toThrow(HubUnreachableError);
  });

  it('stops when aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(searchHub('tiny', SUPPORTED_ARCHITECTURES, { ...opts(), signal: abort.signal })).rejects.toThrow(/abort/i);
  });
});
