import { afterAll, describe, expect, it } from 'vitest';
import { assertFits, estimateGpuMemory, matrixBytes, MemoryTooSmallError } from './memory';
import { PRESETS } from '../engine/model/presets';
import { PROJECTIONS, type ModelSpec } from '../engine/model/spec';
import { syntheticModel } from '../hub/synthetic';
import { createNodeGpu } from '../gpu/node';
import type { Gpu } from '../gpu/gpu';
import { allocateActivations } from '../engine/model/activations';
import { loraLayout } from '../engine/lora/layout';
import { uploadModelWeights } from '../engine/model/gpu-weights';
import { quantize } from './format';
import { createQuantWeight } from '../engine/kernels/matmul-q';

let gpu: Gpu | null = null;
afterAll(() => gpu?.destroy());

const opts = { batch: 2, seq: 16, rank: 4, targets: [...PROJECTIONS], quant: 'none' as const, checkpointing: false };

describe('GPU memory estimate', () => {
  it('matches what the engine allocates for activations, LoRA and f32 weights (tiny model)', async () => {
    gpu = await createNodeGpu();
    const model = syntheticModel({ layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 96, vocab: 200, tie: false, dtype: 'F32' });
    const spec: ModelSpec = model.spec;
    for (const checkpointing of [false, true]) {
      const est = estimateGpuMemory(spec, { ...opts, checkpointing });
      const layout = loraLayout(spec, { r: opts.rank, alpha: 8, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false });
      const before = gpu.allocatedBytes;
      const acts = allocateActivations(gpu, spec, layout, opts.batch, opts.seq, checkpointing);
      const actBytes = gpu.allocatedBytes - before;
      for (const b of acts.buffers) gpu.destroyBuffer(b);
      // activations + gradient scratch + logits: the engine's buffers, within rounding of tiny ones
      const want = est.activations + est.gradScratch + est.logits;
      expect(Math.abs(actBytes - want) / want).toBeLessThan(0.01);
      expect(est.lora.params).toBe(layout.totalFloats * 4);
      expect(est.lora.total).toBe(4 * layout.totalFloats * 4);
    }
    const before = gpu.allocatedBytes;
    const w = await uploadModelWeights(gpu, spec, new Map([...model.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])));
    const wBytes = gpu.allocatedBytes - before;
    for (const b of w.buffers) gpu.destroyBuffer(b);
    expect(estimateGpuMemory(spec, opts).weights).toBe(wBytes);
  });

  it('quantized weights: the bytes uploadQuantWeight allocates', async () => {
    gpu ??= await createNodeGpu();
    for (const kind of ['int8', 'int4'] as const) {
      const before = gpu.allocatedBytes;
      const qt = quantize(new Float32Array(100 * 70), 100, 70, kind);
      const wq = createQuantWeight(gpu, kind, qt.rows, qt.cols, 'w');
      expect(gpu.allocatedBytes - before).toBe(matrixBytes(100, 70, kind));
      gpu.destroyBuffer(wq.q as GPUBuffer);
      gpu.destroyBuffer(wq.scales as GPUBuffer);
    }
  });

  it('checkpointing and quantization shrink the estimate; real shapes give plausible numbers', () => {
    const spec = PRESETS['smollm2-135m'];
    const full = estimateGpuMemory(spec, { ...opts, batch: 4, seq: 512, rank: 16 });
    const ckpt = estimateGpuMemory(spec, { ...opts, batch: 4, seq: 512, rank: 16, checkpointing: true });
    const q4 = estimateGpuMemory(spec, { ...opts, batch: 4, seq: 512, rank: 16, quant: 'int4' });
    expect(ckpt.activations).toBeLessThan(full.activations / 5);
    expect(q4.weights).toBeLessThan(full.weights / 5);
    // 135M params in f32 ≈ 540 MB; int4 ≈ 5/32 of that.
    expect(full.weights / 1e6).toBeGreaterThan(500);
    expect(full.weights / 1e6).toBeLessThan(560);
    expect(q4.weights / full.weights).toBeCloseTo(5 / 32, 1);
    // The head runs in chunks of 640 rows (multiples of 64 within 128 MiB), not all 2048 tokens.
    expect(full.logits).toBe(640 * 49152 * 4);
    expect(full.logits).toBeLessThanOrEqual(128 * 1024 ** 2);
    expect(full.largestBuffer.label).toMatch(/logits/);
  });

  it('refuses a run that cannot fit, with the numbers', () => {
    const spec = PRESETS['smollm2-135m'];
    const est = estimateGpuMemory(spec, { ...opts, batch: 8, seq: 2048, rank: 16 });
    expect(() => assertFits(est, { budgetBytes: 2 * 1024 ** 3 }, { quant: 'none', checkpointing: false })).toThrow(MemoryTooSmallError);
    let m = '';
    try {
      assertFits(est, { budgetBytes: 2 * 1024 ** 3, maxBufferSize: 100 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 }, { quant: 'none', checkpointing: false });
    } catch (e) {
      m = (e as Error).message;
    }
    expect(m).toMatch(/needs [\d.]+ GiB of GPU memory but 2.00 GiB is available/);
    expect(m).toMatch(/logits chunk .* buffer needs 120.0 MiB but this GPU's largest buffer is 100.0 MiB/);
    expect(m).toMatch(/gradient checkpointing/);
    expect(() => assertFits(estimateGpuMemory(spec, { ...opts }), { budgetBytes: 8 * 1024 ** 3, maxBufferSize: 1024 ** 3, maxStorageBufferBindingSize: 1024 ** 3 })).not.toThrow();
  });
});
