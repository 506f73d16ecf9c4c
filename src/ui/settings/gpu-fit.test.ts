import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { estimateGpuMemory } from '../../quant/memory';
import type { GpuInfo, ModelSummary, TrainSettings } from '../../worker/protocol';
import { checkFit, specOf } from './gpu-fit';

const MiB = 2 ** 20;
const gpu: GpuInfo = { adapter: 'test', features: [], maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB, maxComputeWorkgroupStorageSize: 16384 };

const demo: ModelSummary = {
  name: 'Demo model',
  hubId: null,
  architecture: 'LlamaForCausalLM',
  modelType: 'llama',
  hiddenSize: 64,
  intermediateSize: 128,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  vocabSize: 512,
  maxPositionEmbeddings: 512,
  tieWordEmbeddings: false,
  params: 0,
  bytes: 0,
  randomWeights: true,
  quant: 'none',
  hasChatTemplate: false,
};

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
    expect(c.message).toMatch(/needs 256\.0 MiB in one binding but this GPU allows 128\.0 MiB/);
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

  it('a model whose f32 embedding exceeds maxBufferSize: too big as stored; a 4-bit base is suggested when it fits', () => {
    const big: ModelSummary = { ...demo, name: 'big', hiddenSize: 2048, intermediateSize: 8192, vocabSize: 128_000, numHeads: 16, numKvHeads: 8, headDim: 128 };
    const c = checkFit(big, settings(1, 64), gpu, null);
    expect(c.fits).toBe(false);
    expect(c.modelTooBig).toBe(true);
    expect(c.problems.map((p) => p.limit)).toContain('maxBufferSize');
    const int4 = estimateGpuMemory(specOf(big), { batch: 1, seq: 2, rank: 8, targets: ['q_proj'], quant: 'int4', checkpointing: false });
    if (int4.largestBuffer.bytes <= gpu.maxBufferSize && int4.largestBinding.bytes <= gpu.maxStorageBufferBindingSize) {
      expect(c.suggestions.some((s) => s.startsWith('A 4-bit base (int4)'))).toBe(true);
    } else {
      expect(c.suggestions[0]).toMatch(/^A smaller model/);
    }
  });
});
