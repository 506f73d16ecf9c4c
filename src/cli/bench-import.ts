// bench-import [--layers N] [--quant int4|int8|none] [--dtype BF16|F16|F32] [--shards S] [--chunk-mib M]
// Import throughput: writes a synthetic SmolLM2-135M-shaped model (random weights, real
// safetensors; fewer layers by default) to a temp folder, serves it from a local stand-in Hub
// (node:http on 127.0.0.1, Range requests, SHA-256 headers), imports it through the real pipeline
// (download stream → SHA-256 → decode → quantize → chunks → manifest) into an in-memory KeyValue,
// and prints one JSON line. MB/s counts source (downloaded) megabytes (10^6 bytes) per second.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseCommandLine } from './args';
import { syntheticModel } from '../hub/synthetic-testing';
import { startStandInHub } from '../hub/stand-in-server-testing';
import { HubClient } from '../hub/download';
import { hubSource, importModel } from '../hub/import';
import { memoryKeyValue, ModelStore, type ImportQuant } from '../hub/store';

function intFlag(flags: Record<string, string | undefined>, name: string, dflt: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got "${v}")`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  const { flags } = parseCommandLine('bench-import', args, { values: ['layers', 'quant', 'dtype', 'shards', 'chunk-mib'], bools: [] });
  const layers = intFlag(flags, 'layers', 4);
  const quant = (flags['quant'] ?? 'int4') as ImportQuant;
  if (!['int4', 'int8', 'none'].includes(quant)) throw new Error(`--quant must be int4, int8 or none (got "${quant}")`);
  const dtype = (flags['dtype'] ?? 'BF16') as 'BF16' | 'F16' | 'F32';
  if (!['BF16', 'F16', 'F32'].includes(dtype)) throw new Error(`--dtype must be BF16, F16 or F32 (got "${dtype}")`);
  const shards = intFlag(flags, 'shards', 1);
  const chunkBytes = intFlag(flags, 'chunk-mib', 32) * 1024 * 1024;

  // SmolLM2-135M shapes (hidden 576, intermediate 1536, 9 heads / 3 kv heads, vocab 49152, tied).
  const model = syntheticModel({ hidden: 576, intermediate: 1536, heads: 9, kvHeads: 3, vocab: 49152, layers, tie: true, dtype, shards, seed: 1 });
  const dir = await mkdtemp(join(tmpdir(), 'lora-studio-bench-import-'));
  try {
    for (const [name, v] of model.files) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), v);
    }
    const files = new Map<string, Uint8Array>();
    for (const name of model.files.keys()) files.set(name, new Uint8Array(await readFile(join(dir, name))));
    const id = 'bench/SmolLM2-135M-synthetic';
    const hub = await startStandInHub({ models: { [id]: { files } } });
    try {
      const kv = memoryKeyValue();
      const store = new ModelStore(kv);
      const t0 = performance.now();
      const manifest = await importModel({ store, source: hubSource(new HubClient({ baseUrl: hub.url }), id), quant, chunkBytes, storage: null });
      const seconds = (performance.now() - t0) / 1000;
      const sourceBytes = manifest.sourceFiles.reduce((a, f) => a + f.size, 0);
      process.stdout.write(
        JSON.stringify({
          bench: 'import',
          model: 'smollm2-135m-shapes',
          layers,
          dtype,
          shards,
          quant,
          sourceMB: +(sourceBytes / 1e6).toFixed(2),
          storedMB: +(manifest.totalBytes / 1e6).toFixed(2),
          chunks: manifest.chunks.length,
          tensors: manifest.tensors.length,
          seconds: +seconds.toFixed(3),
          MBps: +(sourceBytes / 1e6 / seconds).toFixed(1),
          rssMB: Math.round(process.memoryUsage().rss / 1e6),
        }) + '\n',
      );
    } finally {
      await hub.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return 0;
}
