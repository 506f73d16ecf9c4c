import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../engine/train/types';
import { PRESETS } from '../engine/model/presets';
import { PROJECTIONS, type ModelSpec } from '../engine/model/spec';
import type { GpuInfo, ModelSummary, TrainSettings } from '../worker/protocol';
import { checkFit } from './gpu-fit';

const MiB = 2 ** 20;
const gpu: GpuInfo = { adapter: 'test', features: [], maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB, maxComputeWorkgroupStorageSize: 16384 };

/** The summary the worker sends for a model of this spec (what checkFit reads: spec, quant, name). */
const summaryOf = (spec: ModelSpec, quant: string): ModelSummary => ({
  name: spec.architecture,
  hubId: null,
  params: 0,
  bytes: 0,
  randomWeights: true,
  quant,
  hasChatTemplate: false,
  spec,
});

const demo = summaryOf(PRESETS['tiny'], 'none');

const settings = (batchSize: number, maxLength: number, checkpointing = false): TrainSettings => ({
  lora: { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false },
  train: { ...DEFAULT_TRAIN, checkpointing },
  batchSize,
  maxLength,
  checkpointEvery: 10,
  validationExamples: 0,
});

describe('checkFit', () => {
  it('a small run fits', () => {
    const c = checkFit(demo, settings(4, 128), gpu, null);
    expect(c.fits).toBe(true);
    expect(c.problems).toEqual([]);
  });

  it('logits never exceed one binding: the head runs in chunks', () => {
    // 256 × 512 tokens × 512 vocab × 4 B would be 256 MiB of logits; chunks hold at most 128 MiB.
    const c = checkFit(demo, settings(256, 512), gpu, null);
    expect(c.problems).toEqual([]);
    expect(c.fits).toBe(true);
  });

  it('an activation over one binding: names the numbers and the max length and batch that fit', () => {
    // 1024 × 512 tokens × intermediate 128 × 4 B = 256 MiB for each (tokens, intermediate) buffer (limit 128 MiB).
    const c = checkFit(demo, settings(1024, 512), gpu, null);
    expect(c.fits).toBe(false);
    expect(c.modelTooBig).toBe(false);
    expect(c.problems).toContainEqual({ limit: 'maxStorageBufferBindingSize', label: 'per-token activation (N, I)', bytes: 256 * MiB, max: 128 * MiB });
    expect(c.message).toMatch(/the per-token activation \(N, I\) needs 256 MiB but this GPU allows 128 MiB \(maxStorageBufferBindingSize\)/);
    expect(c.suggestions[0]).toBe('Max length 256 or less (at batch size 1024).');
    expect(c.suggestions[1]).toMatch(/^Batch size 512 or less \(at max length 512\); Gradient accumulation 2 /);
    // The suggestions really fit.
    expect(checkFit(demo, settings(1024, 256), gpu, null).fits).toBe(true);
    expect(checkFit(demo, settings(512, 512), gpu, null).fits).toBe(true);
    expect(checkFit(demo, settings(1024, 257), gpu, null).fits).toBe(false);
  });

  it('uses the longest example when it is shorter than Max length (what the engine allocates)', () => {
    expect(checkFit(demo, settings(1024, 512), gpu, 40).fits).toBe(true);
    expect(checkFit(demo, settings(1024, 512), gpu, 40).seq).toBe(40);
  });

  it('with packing, rows are Max length long whatever the longest example', () => {
    const packed = { ...settings(1024, 512), packing: true };
    expect(checkFit(demo, packed, gpu, 40).seq).toBe(512);
    expect(checkFit(demo, packed, gpu, 40).fits).toBe(false);
    expect(checkFit(demo, packed, gpu, 40).estimate.total_bytes).toBe(checkFit(demo, settings(1024, 512), gpu, null).estimate.total_bytes);
  });

  it('a model whose f32 embedding exceeds maxBufferSize: too big as stored; a 4-bit base is suggested, and fits', () => {
    const big = summaryOf({ ...PRESETS['tiny'], hiddenSize: 2048, intermediateSize: 8192, vocabSize: 128_000, numHeads: 16, numKvHeads: 8, headDim: 128 }, 'none');
    const c = checkFit(big, settings(1, 64), gpu, null);
    expect(c.fits).toBe(false);
    expect(c.modelTooBig).toBe(true);
    // (128000, 2048) f32 = 1000 MiB in one buffer.
    expect(c.problems).toContainEqual({ limit: 'maxBufferSize', label: 'weight model.embed_tokens.weight', bytes: 128_000 * 2048 * 4, max: 256 * MiB });
    expect(c.suggestions[0]).toMatch(/^A 4-bit base \(int4\)/);
    expect(checkFit({ ...big, quant: 'int4' }, settings(1, 64), gpu, null).fits).toBe(true);
  });

  it('Qwen2.5-0.5B and Llama-3.2-1B at batch 4 × 512, int4, fit a GPU that binds 1 GiB (the full logits would not)', () => {
    const GiB = 2 ** 30;
    const oneGiB: GpuInfo = { ...gpu, maxBufferSize: GiB, maxStorageBufferBindingSize: GiB };
    // Qwen's (batch × length × vocabulary) f32 logits: 1.16 GiB; the engine never holds them.
    expect(4 * 512 * PRESETS['qwen2.5-0.5b'].vocabSize * 4).toBeGreaterThan(GiB);
    for (const name of ['qwen2.5-0.5b', 'llama-3.2-1b']) {
      const spec = PRESETS[name];
      const s = settings(4, 512);
      const c = checkFit(summaryOf(spec, 'int4'), { ...s, lora: { ...s.lora, r: 16, targetModules: [...PROJECTIONS] } }, oneGiB, null);
      expect(c.problems).toEqual([]);
      expect(c.fits).toBe(true);
      expect(c.estimate.parts.logits).toBeLessThanOrEqual(128 * MiB);
    }
  });

  it('with no adapter probed yet: the estimate alone, nothing refused', () => {
    const c = checkFit(demo, settings(1024, 512), null, null);
    expect(c.fits).toBe(true);
    expect(c.estimate.total_bytes).toBeGreaterThan(0);
  });
});

describe('checkFit: a preference run', () => {
  it('counts two sequences per pair of the Batch size (and DPO its reference losses)', () => {
    const sft = checkFit(demo, settings(4, 64), gpu, 64);
    const orpo = checkFit(demo, { ...settings(2, 64), train: { ...DEFAULT_TRAIN, method: 'orpo' } }, gpu, 64);
    const dpo = checkFit(demo, { ...settings(2, 64), train: { ...DEFAULT_TRAIN, method: 'dpo' } }, gpu, 64);
    expect(orpo.batch).toBe(2);
    expect(orpo.estimate.total_bytes).toBe(sft.estimate.total_bytes);
    // DPO also keeps the reference's per-token losses (memory.ts objective.refTokenLosses).
    expect(dpo.estimate.total_bytes).toBeGreaterThan(orpo.estimate.total_bytes);
  });
});
