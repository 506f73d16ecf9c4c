// The bench page's worker: runs src/engine/bench on the browser's WebGPU off the main thread, so
// the page stays responsive while weights are generated and steps run. One request at a time.
import { createBrowserGpu } from '../gpu/browser';
import type { Gpu } from '../gpu/gpu';
import { runMatmulBench, type MatmulBenchOptions, type MatmulBenchResult } from '../engine/bench/matmul-bench';
import { runTrainBench, type TrainBenchOptions, type TrainBenchResult } from '../engine/bench/train-bench';
import { runGenerateBench, type GenerateBenchOptions, type GenerateBenchResult } from '../engine/bench/generate-bench';

export type BenchRequest =
  | { id: number; kind: 'train'; opts: TrainBenchOptions }
  | { id: number; kind: 'matmul'; opts: MatmulBenchOptions }
  | { id: number; kind: 'generate'; opts: GenerateBenchOptions };

export type BenchResult = TrainBenchResult | MatmulBenchResult | GenerateBenchResult;

export type BenchReply =
  | { id: number; type: 'progress'; text: string }
  | { id: number; type: 'result'; result: BenchResult; features: string[] }
  | { id: number; type: 'error'; error: { name: string; message: string } };

let gpu: Gpu | null = null;

const post = (m: BenchReply): void => (self as unknown as Worker).postMessage(m);

self.addEventListener('message', (ev: MessageEvent<BenchRequest>) => {
  const req = ev.data;
  void (async () => {
    try {
      if (!gpu) {
        post({ id: req.id, type: 'progress', text: 'Opening the GPU' });
        gpu = await createBrowserGpu({ optionalFeatures: ['timestamp-query'] });
      }
      const g = gpu;
      let result: BenchResult;
      if (req.kind === 'train') result = await runTrainBench(g, req.opts, { onProgress: (text) => post({ id: req.id, type: 'progress', text }) });
      else if (req.kind === 'generate') {
        post({ id: req.id, type: 'progress', text: 'Generating random weights, then decoding' });
        result = await runGenerateBench(g, req.opts);
      } else result = await runMatmulBench(g, req.opts.M, req.opts.N, req.opts.K, req.opts.quant, req.opts.reps, req.opts.tile);
      post({ id: req.id, type: 'result', result, features: [...g.features].sort() });
    } catch (e) {
      const err = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
      post({ id: req.id, type: 'error', error: err });
      // A lost or broken device serves no later run: open a fresh one next time.
      try {
        gpu?.assertAlive();
      } catch {
        gpu = null;
      }
    }
  })();
});
