// The bench page's worker: runs src/engine/bench on the browser's WebGPU off the main thread, so
// the page stays responsive while weights are generated and steps run. Its methods go over the one
// RPC layer of every worker (src/util/rpc.ts); the page runs one at a time.
import { createBrowserGpu } from '../gpu/browser';
import type { Gpu } from '../gpu/gpu';
import { runMatmulBench, type MatmulBenchOptions, type MatmulBenchResult } from '../engine/bench/matmul-bench';
import { runTrainBench, type TrainBenchOptions, type TrainBenchResult } from '../engine/bench/train-bench';
import { runGenerateBench, type GenerateBenchOptions, type GenerateBenchResult } from '../engine/bench/generate-bench';
import { rpcServer, type RpcRequest } from '../util/rpc';

/** A benchmark's result and the GPU features it ran with. */
export interface BenchOutcome<R> {
  result: R;
  features: string[];
}

export type BenchMethods = {
  train: { params: TrainBenchOptions; result: BenchOutcome<TrainBenchResult> };
  matmul: { params: MatmulBenchOptions; result: BenchOutcome<MatmulBenchResult> };
  generate: { params: GenerateBenchOptions; result: BenchOutcome<GenerateBenchResult> };
};

export type BenchResult = TrainBenchResult | MatmulBenchResult | GenerateBenchResult;

/** What the benchmark is doing now, for the status line. */
export type BenchEvent = { kind: 'event'; type: 'progress'; id: number; progress: string };

let gpu: Gpu | null = null;

const post = (m: unknown): void => (self as unknown as Worker).postMessage(m);

/** Runs `fn` on the (lazily opened) GPU; a lost or broken device is dropped so the next run opens a fresh one. */
async function withGpu<R>(id: number, fn: (g: Gpu) => Promise<R>): Promise<BenchOutcome<R>> {
  try {
    if (!gpu) {
      post({ kind: 'event', type: 'progress', id, progress: 'Opening the GPU' } satisfies BenchEvent);
      gpu = await createBrowserGpu({ optionalFeatures: ['timestamp-query'] });
    }
    const g = gpu;
    return { result: await fn(g), features: [...g.features].sort() };
  } catch (e) {
    try {
      gpu?.assertAlive();
    } catch {
      gpu = null;
    }
    throw e;
  }
}

const serve = rpcServer<BenchMethods, BenchEvent>(
  {
    train: (opts, id) => withGpu(id, (g) => runTrainBench(g, opts, { onProgress: (progress) => post({ kind: 'event', type: 'progress', id, progress } satisfies BenchEvent) })),
    generate: (opts, id) =>
      withGpu(id, (g) => {
        post({ kind: 'event', type: 'progress', id, progress: 'Generating random weights, then decoding' } satisfies BenchEvent);
        return runGenerateBench(g, opts);
      }),
    matmul: (opts, id) => withGpu(id, (g) => runMatmulBench(g, opts.M, opts.N, opts.K, opts.quant, opts.reps, opts.tile)),
  },
  post,
);

self.addEventListener('message', (ev: MessageEvent<RpcRequest<BenchMethods>>) => void serve(ev.data));
