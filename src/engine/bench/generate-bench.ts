// The generation benchmark, wherever it runs (CLI): a model of a preset's real shapes with random
// weights and a LoRA adapter on all seven projections, a random prompt through the prefill, then
// greedy decode steps one token at a time, as "Try it" runs them. Reports the median time per new
// token (the GPU step, the logits read-back and the choice of the token) and what the decoder holds.
import { hasOwn } from '../../io/untrusted/json';
import type { Gpu } from '../../gpu/gpu';
import { Decoder } from '../generate/decoder';
import { Generation } from '../generate/generate';
import { rng } from '../kernels/random';
import { initLoraTensors } from '../lora/adapter';
import { loraLayout, packLora } from '../lora/layout';
import { destroyModelWeights, uploadModelWeights } from '../model/gpu-weights';
import { PRESETS, randomWeights } from '../model/presets';
import { PROJECTIONS } from '../model/spec';
import { BenchFieldError, intField, quantField, round, significant, type BenchQuant, type FieldLabel, type RawFields } from './fields';
import { benchSpec } from './train-bench';

export interface GenerateBenchOptions {
  model: string;
  layers: number;
  quant: BenchQuant;
  rank: number;
  /** Prompt tokens (prefill), then new tokens (decode steps). */
  prompt: number;
  tokens: number;
  /** When the decoder's pipelines compile (DecoderOptions.compile; default 'ahead'). */
  compile?: 'ahead' | 'first-use';
}

export interface GenerateBenchResult {
  generate: string;
  layers: number;
  quant: BenchQuant;
  rank: number;
  prompt: number;
  tokens: number;
  /** Decoder.create: its buffers and programs, and with compile 'ahead' the parallel compile. */
  setup_ms: number;
  /** Wall time compiling pipelines up to the first token (ahead: during setup; first-use: inside the prefill and first step). */
  compile_ms: number;
  /** Pipelines compiled ahead (in parallel) and at first use (one by one), up to the first token. */
  compiled: { ahead: number; first_use: number };
  prefill_ms: number;
  /** What "Try it" waits for its first token: setup_ms + prefill_ms. */
  first_token_ms: number;
  /** Median over the decode steps after the first (which compiles the step's pipelines). */
  ms_per_token: number;
  tokens_per_s: number;
  /** Peak bytes of the Gpu's buffers: weights, adapter, KV cache and scratch. */
  gpu_bytes: number;
  adapter: string;
  subgroups: boolean;
  /** GPU time per kernel of one decode step, when the device has timestamp queries. */
  kernels: Record<string, { calls: number; ms: number }> | null;
}

/** Options from text fields; defaults: tiny, all layers, quant none, rank 16, prompt 32, tokens 16. */
export function parseGenerateBenchOptions(raw: RawFields, label: FieldLabel): GenerateBenchOptions {
  const model = raw['model'] ?? 'tiny';
  const preset = hasOwn(PRESETS, model) ? PRESETS[model] : undefined; // own keys only: "constructor" is no model
  if (!preset) throw new BenchFieldError('model', `${label('model')} ${model} is not known (choose from ${Object.keys(PRESETS).join(', ')})`);
  return {
    model,
    layers: intField(raw, 'layers', preset.numLayers, label),
    quant: quantField(raw, 'quant', label),
    rank: intField(raw, 'rank', 16, label),
    prompt: intField(raw, 'prompt', 32, label),
    tokens: intField(raw, 'tokens', 16, label, 2),
  };
}


export async function runGenerateBench(gpu: Gpu, opts: GenerateBenchOptions): Promise<GenerateBenchResult> {
  const spec = benchSpec({ model: opts.model, layers: opts.layers, batch: 1, seq: 1, rank: opts.rank, quant: opts.quant, checkpointing: false, steps: 0 });
  const lora = { r: opts.rank, alpha: 2 * opts.rank, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false };
  const base = gpu.allocatedBytes;
  gpu.peakAllocatedBytes = base;
  const weights = await uploadModelWeights(gpu, spec, randomWeights(spec, 1, opts.quant), opts.quant);
  const layout = loraLayout(spec, lora);
  const params = gpu.upload(packLora(layout, initLoraTensors(spec, lora, 1)), 'lora.params');
  let decoder: Decoder | null = null;
  try {
    const compileBefore = { ...gpu.compileStats };
    const setupStart = performance.now();
    decoder = await Decoder.create(gpu, spec, weights, { layout, params }, { maxContext: opts.prompt + opts.tokens + 1, compile: opts.compile });
    const setupMs = performance.now() - setupStart;
    const g = rng(3);
    const prompt = Array.from({ length: opts.prompt }, () => Math.floor(g() * spec.vocabSize));
    const gen = new Generation(decoder, prompt, { temperature: 0, topP: 1, maxNewTokens: opts.tokens, stopIds: [], seed: 0 });
    const times: number[] = [];
    let compileAfter = { ...gpu.compileStats };
    let last = performance.now();
    await gen.run(() => {
      const now = performance.now();
      times.push(now - last);
      last = now;
      if (times.length === 1) compileAfter = { ...gpu.compileStats };
    });
    // times[0] is the prefill and the first token; times[1] the first decode step (pipelines).
    const steps = times.slice(2).sort((a, b) => a - b);
    const median = steps.length ? steps[Math.floor(steps.length / 2)] : times[times.length - 1];
    let kernels: GenerateBenchResult['kernels'] = null;
    if (gpu.features.has('timestamp-query')) {
      const prof = await decoder.profileStep();
      kernels = Object.fromEntries(
        Object.entries(prof)
          .sort((a, b) => b[1].ms - a[1].ms)
          .map(([k, v]) => [k, { calls: v.calls, ms: round(v.ms, 3) }]),
      );
    }
    return {
      generate: opts.model,
      layers: spec.numLayers,
      quant: opts.quant,
      rank: opts.rank,
      prompt: opts.prompt,
      tokens: gen.ids.length,
      setup_ms: round(setupMs, 2),
      compile_ms: round(compileAfter.ms - compileBefore.ms, 2),
      compiled: { ahead: compileAfter.async - compileBefore.async, first_use: compileAfter.sync - compileBefore.sync },
      prefill_ms: round(times[0], 2),
      first_token_ms: round(setupMs + times[0], 2),
      ms_per_token: round(median, 2),
      tokens_per_s: significant(1000 / median, 4),
      gpu_bytes: gpu.peakAllocatedBytes - base,
      adapter: gpu.adapterName,
      subgroups: gpu.subgroups,
      kernels,
    };
  } finally {
    decoder?.destroy();
    gpu.destroyBuffer(params);
    destroyModelWeights(gpu, weights);
  }
}
