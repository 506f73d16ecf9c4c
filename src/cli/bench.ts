// bench --matmul M N K [--quant none|int8|int4] [--reps R]: one frozen-linear kernel, GFLOP/s.
// bench --model smollm2-135m|qwen2.5-0.5b|qwen3-0.6b|llama-3.2-1b|tiny [--layers N] --batch B --seq T
//       --rank R [--quant none] [--checkpointing] --steps N [--json]
// Full training steps (forward, backward, clipping, AdamW) on random weights of the real shapes,
// LoRA on all seven projections. Prints one JSON line; the median step time is reported.
import { createNodeGpu } from '../gpu/node';
import { PRESETS, randomWeights } from '../engine/model/presets';
import { PROJECTIONS } from '../engine/model/spec';
import { Trainer } from '../engine/train/trainer';
import { DEFAULT_TRAIN, type Batch } from '../engine/train/types';
import { rng } from '../engine/kernels/random';
import { parseArgs } from './args';
import { projForward } from '../engine/model/linear';
import { quantWeightBytes, uploadQuantWeight } from '../engine/kernels/matmul-q';
import { quantize, type QuantKind } from '../quant/format';

function intFlag(flags: Record<string, string | undefined>, name: string, dflt: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got "${v}")`);
  return n;
}

/** bench --matmul M N K: out (M,N) = x (M,K)·Wᵀ with W (N,K), f32 or quantized W. GFLOP/s, GB/s of W. */
async function benchMatmul(M: number, N: number, K: number, quant: string, reps: number): Promise<Record<string, unknown>> {
  const gpu = await createNodeGpu();
  try {
    const g = rng(3);
    const x = gpu.upload(new Float32Array(M * K).map(() => g() - 0.5), 'x');
    const out = gpu.createBuffer(M * N * 4, 'out');
    const wHost = new Float32Array(N * K).map(() => g() - 0.5);
    const weight = quant === 'none' ? gpu.upload(wHost, 'w') : uploadQuantWeight(gpu, quantize(wHost, N, K, quant as QuantKind), 'w');
    const rec = gpu.recorder();
    for (let i = 0; i < reps; i++) projForward(rec, out, x, { weight, bias: null }, M, K, N);
    const program = rec.finish();
    program.run(); // warm-up: pipeline compilation
    await gpu.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    program.run();
    await gpu.device.queue.onSubmittedWorkDone();
    const ms = (performance.now() - t0) / reps;
    const wBytes = quant === 'none' ? N * K * 4 : quantWeightBytes(quant as QuantKind, N, K);
    program.destroy();
    return {
      matmul: [M, N, K],
      quant,
      ms: Math.round(ms * 1000) / 1000,
      gflops: Math.round(((2 * M * N * K) / (ms / 1000) / 1e9) * 100) / 100,
      weight_gbps: Math.round((wBytes / (ms / 1000) / 1e9) * 100) / 100,
      adapter: gpu.adapterName,
    };
  } finally {
    gpu.destroy();
  }
}

export async function run(args: string[]): Promise<number> {
  const { flags, bools, positional } = parseArgs(args, ['model', 'layers', 'batch', 'seq', 'rank', 'quant', 'steps', 'reps']);
  if (bools.has('matmul')) {
    const [M, N, K] = positional.map(Number);
    if (![M, N, K].every((v) => Number.isInteger(v) && v > 0)) throw new Error('usage: bench --matmul M N K [--quant none|int8|int4] [--reps R]');
    const q = flags['quant'] ?? 'none';
    if (!['none', 'int8', 'int4'].includes(q)) throw new Error(`--quant ${q} is not one of none, int8, int4`);
    process.stdout.write(`${JSON.stringify(await benchMatmul(M, N, K, q, intFlag(flags, 'reps', 5)))}\n`);
    return 0;
  }
  const name = flags['model'] ?? 'tiny';
  const preset = PRESETS[name];
  if (!preset) throw new Error(`--model ${name} is not known (choose from ${Object.keys(PRESETS).join(', ')})`);
  const quant = flags['quant'] ?? 'none';
  if (quant !== 'none' && quant !== 'int8' && quant !== 'int4') throw new Error(`--quant ${quant} is not one of none, int8, int4`);
  const spec = { ...preset, numLayers: intFlag(flags, 'layers', preset.numLayers) };
  const B = intFlag(flags, 'batch', 1);
  const T = intFlag(flags, 'seq', 64);
  const r = intFlag(flags, 'rank', 16);
  const steps = intFlag(flags, 'steps', 3);
  const checkpointing = bools.has('checkpointing');

  const gpu = await createNodeGpu({ optionalFeatures: ['timestamp-query'] }, []);
  try {
    const trainer = await Trainer.create(
      gpu,
      { spec, weights: randomWeights(spec, 1) },
      { r, alpha: 2 * r, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false },
      { ...DEFAULT_TRAIN, lr: 1e-4, maxSteps: steps, checkpointing, schedule: 'constant' },
      { maxBatch: B, maxSeq: T, quant },
    );
    const g = rng(7);
    const ids = new Int32Array(B * T).map(() => Math.floor(g() * spec.vocabSize));
    const batch: Batch = { B, T, inputIds: ids, attentionMask: new Int32Array(B * T).fill(1), labels: ids };
    const times: number[] = [];
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      const res = await trainer.trainStep([batch]);
      times.push(performance.now() - t0);
      losses.push(res.loss);
    }
    // The first step compiles pipelines and records programs: leave it out of the median when possible.
    const timed = times.length > 1 ? times.slice(1) : times;
    const sorted = [...timed].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    // Per-kernel GPU time of one more step, when the adapter has timestamp queries (lr 0: no update).
    let kernels: Record<string, { calls: number; ms: number }> | null = null;
    if (gpu.features.has('timestamp-query')) {
      const prof = await trainer.profile(batch);
      kernels = Object.fromEntries(
        Object.entries(prof)
          .sort((a, b) => b[1].ms - a[1].ms)
          .map(([k, v]) => [k, { calls: v.calls, ms: Math.round(v.ms * 1000) / 1000 }]),
      );
    }
    const out = {
      model: name,
      layers: spec.numLayers,
      quant,
      batch: B,
      seq: T,
      rank: r,
      checkpointing,
      steps,
      step_ms: Math.round(median * 100) / 100,
      first_step_ms: Math.round(times[0] * 100) / 100,
      tokens_per_s: Math.round(((B * T) / median) * 1000 * 10) / 10,
      gpu_bytes: gpu.peakAllocatedBytes,
      losses,
      adapter: gpu.adapterName,
      kernels,
    };
    trainer.destroy();
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  } finally {
    gpu.destroy();
  }
}
