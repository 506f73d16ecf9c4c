// One frozen-linear kernel, wherever it runs (CLI or bench page): out (M,N) = x (M,K)·Wᵀ with
// W (N,K) stored f32 or block-quantized. Reports GFLOP/s and the GB/s of W it streams.
import type { Gpu } from '../../gpu/gpu';
import { rng } from '../kernels/random';
import { linearForward } from '../kernels/matmul';
import { destroyQuantWeight, linearForwardQ, quantWeightBytes, uploadQuantWeight } from '../kernels/matmul-q';
import { resolveMatmulTile, type MatmulTile } from '../kernels/matmul-tile128';
import { quantize } from '../../quant/format';
import { BenchFieldError, intField, quantField, round, significant, type BenchQuant, type FieldLabel, type RawFields } from './fields';

export interface MatmulBenchOptions {
  M: number;
  N: number;
  K: number;
  quant: BenchQuant;
  reps: number;
  /** Output tile: auto (what training uses for this shape), or 64 / 128 forced, to compare. */
  tile: MatmulTile;
}

export interface MatmulBenchResult {
  matmul: [number, number, number];
  quant: BenchQuant;
  /** The tile that ran (auto resolved). */
  tile: 64 | 128;
  ms: number;
  gflops: number;
  weight_gbps: number;
  adapter: string;
}

/** auto, 64 or 128. */
export function tileField(raw: RawFields, field: string, label: FieldLabel): MatmulTile {
  const t = raw[field] ?? 'auto';
  if (t === 'auto') return 'auto';
  if (t === '64' || t === '128') return Number(t) as 64 | 128;
  throw new BenchFieldError(field, `${label(field)} ${t} is not one of auto, 64, 128`);
}

/** Options from text fields M, N, K, quant, reps (default 5), tile; errors name the field with `label`. */
export function parseMatmulBenchOptions(raw: RawFields, label: FieldLabel): MatmulBenchOptions {
  return {
    M: intField(raw, 'M', 1024, label),
    N: intField(raw, 'N', 1024, label),
    K: intField(raw, 'K', 1024, label),
    quant: quantField(raw, 'quant', label),
    reps: intField(raw, 'reps', 5, label),
    tile: tileField(raw, 'tile', label),
  };
}


/** Times `reps` back-to-back matmuls in one submit, after one warm-up run (pipeline compilation). */
export async function runMatmulBench(gpu: Gpu, M: number, N: number, K: number, quant: BenchQuant, reps: number, tile: MatmulTile = 'auto'): Promise<MatmulBenchResult> {
  const used = resolveMatmulTile(tile, M, N, gpu.limits, 'bench --matmul');
  const g = rng(3);
  const x = gpu.upload(new Float32Array(M * K).map(() => g() - 0.5), 'x');
  const out = gpu.createBuffer(M * N * 4, 'out');
  const wHost = new Float32Array(N * K).map(() => g() - 0.5);
  const weight = quant === 'none' ? gpu.upload(wHost, 'w') : uploadQuantWeight(gpu, quantize(wHost, N, K, quant), 'w');
  try {
    const ms = await gpu.checked(async () => {
      const rec = gpu.recorder();
      for (let i = 0; i < reps; i++) {
        if (quant === 'none') linearForward(rec, out, x, weight as GPUBuffer, null, M, K, N, false, used);
        else linearForwardQ(rec, out, x, weight as Exclude<typeof weight, GPUBuffer>, null, M, K, N, false, used);
      }
      const program = rec.finish();
      try {
        program.run(); // warm-up: pipeline compilation
        await gpu.device.queue.onSubmittedWorkDone();
        const t0 = performance.now();
        program.run();
        await gpu.device.queue.onSubmittedWorkDone();
        return (performance.now() - t0) / reps;
      } finally {
        program.destroy();
      }
    });
    const wBytes = quant === 'none' ? N * K * 4 : quantWeightBytes(quant, N, K);
    return {
      matmul: [M, N, K],
      quant,
      tile: used,
      ms: round(ms, 3),
      gflops: significant((2 * M * N * K) / (ms / 1000) / 1e9, 4),
      weight_gbps: significant(wBytes / (ms / 1000) / 1e9, 4),
      adapter: gpu.adapterName,
    };
  } finally {
    gpu.destroyBuffer(x);
    gpu.destroyBuffer(out);
    if (quant === 'none') gpu.destroyBuffer(weight as GPUBuffer);
    else destroyQuantWeight(gpu, weight as Exclude<typeof weight, GPUBuffer>);
  }
}
