// bench-load [--synthetic 600MB] [--quant int4|int8|none] [--json]
// Host memory of loading a stored 16-bit model into the engine. Imports a synthetic Llama of about
// the given size (bf16, generated on demand: src/hub/synthetic-testing.ts) through the real import
// pipeline into a model library kept on disk (a file per key, the layout of the IndexedDB store),
// then opens it as the worker does (storedWeightSource) and uploads it to the GPU with the
// engine's streaming uploader, sampling process.memoryUsage() after every part. Prints one JSON
// line: peak and baseline RSS (and arrayBuffers), the largest tensor as stored, the bytes of the
// int8/int4 blocks, and ratio = (peak - baseline) / (largest tensor + blocks). Under SwiftShader
// the "GPU" buffers live in host memory, so the blocks count in the RSS too.
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseCommandLine, UsageError } from './args';
import { createNodeGpu } from '../gpu/node';
import { streamedSyntheticSource } from '../hub/synthetic-testing';
import { importModel } from '../hub/import';
import { ModelStore, type KeyValue } from '../hub/store';
import { openStoredModel, storedWeightSource } from '../hub/load';
import { destroyModelWeights, uploadModelWeights, type BaseQuant } from '../engine/model/gpu-weights';
import { quantWeightBytes } from '../engine/kernels/matmul-q';
import type { WeightSource } from '../engine/model/weight-source';

/** A KeyValue over a folder: one file per key (bytes as they are, anything else as JSON). */
function fileKeyValue(dir: string): KeyValue {
  const path = (k: string, ext: string): string => join(dir, encodeURIComponent(k) + ext);
  const exists = async (p: string): Promise<boolean> => readFile(p).then(() => true, () => false);
  return {
    async get(k) {
      const bin = await readFile(path(k, '.bin')).catch(() => null);
      if (bin) return new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength);
      const json = await readFile(path(k, '.json'), 'utf8').catch(() => null);
      return json === null ? undefined : JSON.parse(json);
    },
    async set(k, v) {
      if (v instanceof Uint8Array) await writeFile(path(k, '.bin'), v);
      else await writeFile(path(k, '.json'), JSON.stringify(v));
    },
    async del(k) {
      for (const ext of ['.bin', '.json']) if (await exists(path(k, ext))) await unlink(path(k, ext));
    },
    async keys() {
      return (await readdir(dir)).map((f) => decodeURIComponent(f.replace(/\.(bin|json)$/, '')));
    },
  };
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB)$/i.exec(s.trim());
  if (!m) throw new UsageError(`--synthetic must be a size such as 600MB or 1GB (got "${s}")`);
  return Number(m[1]) * (m[2].toUpperCase() === 'GB' ? 1e9 : 1e6);
}

/** Llama shapes (hidden 2048, 5632 intermediate, 16/4 heads, vocab 32000, tied) with enough layers for `bytes` of bf16. */
function shapesFor(bytes: number): { hidden: number; intermediate: number; heads: number; kvHeads: number; vocab: number; layers: number; tie: boolean } {
  const hidden = 2048;
  const intermediate = 5632;
  const vocab = 32000;
  const perLayer = 2 * (2 * hidden * hidden + 2 * hidden * (hidden / 4) + 3 * hidden * intermediate + 2 * hidden);
  const layers = Math.max(1, Math.ceil((bytes - 2 * vocab * hidden) / perLayer));
  return { hidden, intermediate, heads: 16, kvHeads: 4, vocab, layers, tie: true };
}

/** Drops garbage now (v8's gc exposed at run time), so the baseline is what is really live. */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function run(args: string[]): Promise<number> {
  const { flags, bools } = parseCommandLine('bench-load', args, { values: ['synthetic', 'quant'], bools: ['json'] });
  const target = parseSize(flags['synthetic'] ?? '600MB');
  const quant = (flags['quant'] ?? 'int4') as BaseQuant;
  if (!['int4', 'int8', 'none'].includes(quant)) throw new UsageError(`--quant must be int4, int8 or none (got "${quant}")`);

  const dir = await mkdtemp(join(tmpdir(), 'lora-studio-bench-load-'));
  const gpu = await createNodeGpu();
  try {
    const source = streamedSyntheticSource({ ...shapesFor(target), dtype: 'BF16' });
    const store = new ModelStore(fileKeyValue(dir));
    const manifest = await importModel({ store, source, quant: 'none', storage: null });
    const { model, spec } = await openStoredModel(store, manifest.key);

    let largest = 0;
    let quantized = 0;
    let f32Model = 0;
    for (const t of manifest.tensors) {
      const stored = t.segments.reduce((a, s) => a + s.bytes, 0);
      largest = Math.max(largest, stored);
      f32Model += t.rows * t.cols * 4;
      if (quant !== 'none' && t.shape.length === 2 && !/norm/.test(t.name)) quantized += quantWeightBytes(quant, t.rows, t.cols);
    }

    collect();
    await new Promise((r) => setTimeout(r, 200));
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakAb = base.arrayBuffers;
    const sample = (): void => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakAb = Math.max(peakAb, m.arrayBuffers);
    };
    const stored = storedWeightSource(model);
    // Samples after every part is written to the GPU, while the part is still alive.
    const sampled: WeightSource = { name: stored.name, tensors: stored.tensors, forEachPart: (n, fn) => stored.forEachPart(n, async (p) => (await fn(p), sample())) };
    const timer = setInterval(sample, 5);
    const t0 = performance.now();
    const weights = await uploadModelWeights(gpu, spec, sampled, quant);
    const ms = performance.now() - t0;
    clearInterval(timer);
    sample();
    const gpuBytes = gpu.allocatedBytes;
    destroyModelWeights(gpu, weights);

    const over = peakRss - base.rss;
    const result = {
      bench: 'load',
      quant,
      model_bytes: manifest.totalBytes,
      layers: spec.numLayers,
      f32_model_bytes: f32Model,
      baseline_rss_bytes: base.rss,
      peak_rss_bytes: peakRss,
      baseline_array_buffers_bytes: base.arrayBuffers,
      peak_array_buffers_bytes: peakAb,
      largest_tensor_bytes: largest,
      quantized_bytes: quantized,
      gpu_bytes: gpuBytes,
      ratio: Math.round((over / (largest + quantized)) * 1000) / 1000,
      bound_ok: over < 1.3 * largest + quantized,
      load_ms: Math.round(ms),
    };
    if (bools.has('json')) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;
      process.stdout.write(
        `${mb(result.model_bytes)} stored bf16 (${spec.numLayers} layers) → GPU ${quant}: RSS +${mb(over)} over ${mb(base.rss)} ` +
          `(largest tensor ${mb(largest)}, ${quant} blocks ${mb(quantized)}; ratio ${result.ratio}; f32 model would be ${mb(f32Model)}) in ${result.load_ms} ms\n`,
      );
    }
    return result.bound_ok ? 0 : 1;
  } finally {
    gpu.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
