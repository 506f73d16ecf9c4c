// The benchmark core on the tiny preset: memory-only mode (steps 0) counts exactly what a run with
// steps allocates (a training step allocates nothing), and steps give finite results.
import { comparePytorch } from './pytorch-reference';
import { PRESETS } from '../model/presets';
import { trainStepFlops } from './step-flops';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../kernels/testing';
import { BenchFieldError, cliLabel, plainLabel } from './fields';
import { parseMatmulBenchOptions, runMatmulBench } from './matmul-bench';
import { benchSpec, parseTrainBenchOptions, runTrainBench, type TrainBenchOptions } from './train-bench';
import { estimateTrainingMemory } from '../train/memory';
import { PROJECTIONS } from '../model/spec';

const tiny: TrainBenchOptions = { model: 'tiny', layers: 2, batch: 2, seq: 16, rank: 4, quant: 'none', checkpointing: false, steps: 2 };

describe('train bench', () => {
  for (const [quant, checkpointing] of [
    ['none', false],
    ['int4', true],
  ] as const) {
    it(`steps 0 reports the same gpu_bytes as steps 2 (quant ${quant}, checkpointing ${checkpointing})`, async () => {
      const gpu = await testGpu();
      const opts = { ...tiny, quant, checkpointing };
      const before = gpu.allocatedBytes;
      const memOnly = await runTrainBench(gpu, { ...opts, steps: 0 });
      const run = await runTrainBench(gpu, opts);
      // Everything is freed again.
      expect(gpu.allocatedBytes).toBe(before);

      expect(memOnly.gpu_bytes).toBeGreaterThan(0);
      expect(memOnly.gpu_bytes).toBe(run.gpu_bytes);
      // The page's and `cli estimate`'s figure: every buffer exactly, plus an upper bound of the uniform blocks.
      const est = estimateTrainingMemory(benchSpec(opts), { ...opts, lora: { r: opts.rank, alpha: 2 * opts.rank, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false } });
      expect(est.total_bytes).toBeGreaterThanOrEqual(memOnly.gpu_bytes);
      expect(est.total_bytes - est.parts.uniforms).toBeLessThan(memOnly.gpu_bytes);
      expect(memOnly).toMatchObject({ steps: 0, step_ms: null, first_step_ms: null, tokens_per_s: null, model_tflop_per_s: null, losses: [], kernels: null });
      expect(run.step_tflop).toBeGreaterThan(0);
      expect(Math.abs(run.model_tflop_per_s! / (run.step_tflop / (run.step_ms! / 1000)) - 1)).toBeLessThan(1e-2);

      expect(run.steps).toBe(2);
      expect(run.losses).toHaveLength(2);
      for (const l of run.losses) expect(Number.isFinite(l)).toBe(true);
      for (const v of [run.step_ms, run.first_step_ms, run.tokens_per_s]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      expect(run.adapter.length).toBeGreaterThan(0);
      expect(Object.keys(run)).toEqual([
        'model', 'layers', 'quant', 'batch', 'seq', 'rank', 'checkpointing', 'steps', 'step_ms', 'first_step_ms',
        'compile_ms', 'setup_ms', 'compiled', 'tokens_per_s', 'step_tflop', 'model_tflop_per_s', 'gpu_bytes', 'losses', 'adapter', 'subgroups', 'kernels', 'vs_pytorch_h100',
      ]);
      // Every pipeline compiled before the first step (memory-only ran first on this Gpu and compiled them ahead).
      expect(memOnly.compiled.first_use).toBe(0);
      expect(run.compiled.first_use).toBe(0);
      expect(run.vs_pytorch_h100).toBeNull(); // tiny has no PyTorch reference
      expect(run.subgroups).toBe(gpu.subgroups);
    });
  }

  it('matmul gives a positive rate', async () => {
    const gpu = await testGpu();
    const before = gpu.allocatedBytes;
    const r = await runMatmulBench(gpu, 32, 48, 64, 'int8', 2);
    expect(r.matmul).toEqual([32, 48, 64]);
    expect(r.gflops).toBeGreaterThan(0);
    expect(gpu.allocatedBytes).toBe(before);
  });
});

describe('step FLOPs', () => {
  it('SmolLM2-135M at 4 × 512, r 16 on all seven projections: 1.2706 TFLOP, counted by hand', () => {
    // Per layer, N = 2048 tokens: frozen q,k,v,o,gate,up,down (Σ in·out = 3,538,944) forward and
    // input-gradient: 4·N·3,538,944 = 28,991,029,248; LoRA (Σ in+out = 10,176): 6·N·16·10,176 =
    // 2,000,683,008; attention: 12·64 per visible pair, 512·513/2 pairs per row, 9 heads, 4 rows =
    // 3,630,956,544. × 30 layers, plus the tied LM head 4·N·576·49,152 = 231,928,233,984.
    expect(trainStepFlops(PRESETS['smollm2-135m'], { batch: 4, seq: 512, rank: 16 })).toBe(1_270_608_297_984);
    // LoRA on q and v only: the frozen work stays, LoRA shrinks to 6·N·16·(1152 + 768) per layer.
    const qv = trainStepFlops(PRESETS['smollm2-135m'], { batch: 4, seq: 512, rank: 16, targets: ['q_proj', 'v_proj'] });
    expect(1_270_608_297_984 - qv).toBe(30 * 6 * 2048 * 16 * (10_176 - 1920));
  });

  it('a sliding layer counts min(t + 1, W) keys per query: gemma-3-270m at 4 × 1024 (window 512 on 15 of 18 layers)', () => {
    const spec = PRESETS['gemma-3-270m'];
    const shape = { batch: 4, seq: 1024, rank: 16 };
    const unwindowed = trainStepFlops({ ...spec, slidingWindow: null }, shape);
    // Per sliding layer: 1024·1025/2 - (512·513/2 + 512·512) = 131,328 fewer pairs, × 12·256 FLOPs × 4 heads × 4 rows.
    expect(unwindowed - trainStepFlops(spec, shape)).toBe(15 * 131_328 * 12 * 256 * 4 * 4);
  });
});

describe('PyTorch reference points', () => {
  it('compare only the reference shape: 4 × 512, r 16, all layers', () => {
    const ref = { allLayers: true, batch: 4, seq: 512, rank: 16 };
    expect(comparePytorch('llama-3.2-1b', ref, 3750)).toEqual({ pytorch_f32_tokens_per_s: 7500, ratio_f32: 0.5, pytorch_bf16_tokens_per_s: 24200, ratio_bf16: 0.155 });
    expect(comparePytorch('smollm2-135m', ref, 13700)?.ratio_f32).toBe(1);
    expect(comparePytorch('llama-3.2-1b', { ...ref, seq: 256 }, 3750)).toBeNull();
    expect(comparePytorch('llama-3.2-1b', { ...ref, allLayers: false }, 3750)).toBeNull();
    expect(comparePytorch('qwen3-0.6b', ref, 3750)).toBeNull();
    expect(comparePytorch('llama-3.2-1b', ref, null)).toBeNull();
  });
});

describe('bench options', () => {
  it('defaults and names the bad field as the caller labels it', () => {
    expect(parseTrainBenchOptions({}, false, cliLabel)).toEqual({
      model: 'tiny', layers: 2, batch: 1, seq: 64, rank: 16, quant: 'none', checkpointing: false, steps: 3,
    });
    expect(parseTrainBenchOptions({ model: 'llama-3.2-1b', steps: '0' }, true, cliLabel)).toMatchObject({ layers: 16, steps: 0, checkpointing: true });
    expect(() => parseTrainBenchOptions({ batch: '0' }, false, cliLabel)).toThrow('--batch must be a positive integer (got "0")');
    expect(() => parseTrainBenchOptions({ seq: '1.5' }, false, plainLabel)).toThrow('seq must be a positive integer (got "1.5")');
    expect(() => parseTrainBenchOptions({ steps: '-1' }, false, cliLabel)).toThrow('--steps must be a non-negative integer');
    expect(() => parseTrainBenchOptions({ quant: 'fp8' }, false, cliLabel)).toThrow('--quant fp8 is not one of none, int8, int4');
    expect(() => parseTrainBenchOptions({ model: 'gpt-5' }, false, cliLabel)).toThrow(/--model gpt-5 is not known \(choose from .*tiny/);
    try {
      parseMatmulBenchOptions({ K: 'x' }, plainLabel);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BenchFieldError);
      expect((e as BenchFieldError).field).toBe('K');
    }
  });
});
