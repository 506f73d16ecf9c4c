// cli export --format onnx --model DIR [--adapter DIR|ZIP] [--quant none|int8|int4] --out OUT_DIR
//   Writes the Transformers.js folder (export.ts) and prints one JSON line
//   {"format":"onnx","quant","files":[...],"bytes"}.
// cli export --format onnx --preset NAME [--quant ...] --out OUT_DIR
//   Memory benchmark: a bench preset's random weights (src/engine/model/presets.ts), made tensor
//   by tensor, exported as the model file alone; the JSON line adds the peak host memory (max RSS)
//   and its ratio to the export's size.
import { readFile } from 'node:fs/promises';
import { resourceUsage } from 'node:process';
import { parseCommandLine, UsageError } from '../../cli/args';
import { nodeFolder } from '../../io/node-files';
import { adapterZipFolder } from '../../engine/lora/adapter-zip';
import { PRESETS, randomWeight } from '../../engine/model/presets';
import type { ModelFolder } from '../../engine/model/weights';
import { openFolderSource, openGeneratedSource } from '../source';
import { buildDecoderGraph, type OnnxQuant } from './decoder';
import { exportOnnx, writeOnnxModel, type OnnxExportResult } from './export';
import type { OutputFile } from '../../util/byte-sink';
import { stagedFolder } from '../atomic-sink';

const QUANTS: readonly OnnxQuant[] = ['none', 'int8', 'int4'];

async function adapterFolder(path: string): Promise<ModelFolder> {
  return /\.zip$/i.test(path) ? adapterZipFolder(new Uint8Array(await readFile(path)), path) : nodeFolder(path);
}

export async function run(_format: string, args: string[]): Promise<number> {
  const { flags } = parseCommandLine('export --format onnx', args, { values: ['format', 'model', 'adapter', 'quant', 'out', 'preset'], bools: [] });
  const quant = (flags.quant ?? 'none') as OnnxQuant;
  if (!QUANTS.includes(quant)) throw new UsageError(`export --format onnx: --quant must be one of ${QUANTS.join(', ')} (got ${JSON.stringify(flags.quant)})`);
  const out = flags.out;
  if (!out) throw new UsageError('export --format onnx: --out OUT_DIR is required');
  if ((flags.model === undefined) === (flags.preset === undefined)) throw new UsageError('export --format onnx: give --model DIR (or --preset NAME for the memory benchmark)');

  const staged = await stagedFolder(out);
  let result: OnnxExportResult & { preset?: string };
  try {
    if (flags.preset !== undefined) {
      result = await exportPreset(flags.preset, quant, staged.create);
    } else {
      const folder = nodeFolder(flags.model!);
      const src = await openFolderSource(folder, { adapter: flags.adapter ? await adapterFolder(flags.adapter) : null });
      result = await exportOnnx(src, folder, quant, staged);
    }
    await staged.commit();
  } catch (e) {
    await staged.abort();
    throw e;
  }
  const line: Record<string, unknown> = { format: 'onnx', quant, files: result.files.map((f) => f.path), bytes: result.bytes };
  if (flags.preset !== undefined) {
    // resourceUsage().maxRSS is in kilobytes: the process's peak resident memory so far.
    const peak = resourceUsage().maxRSS * 1024;
    Object.assign(line, { preset: flags.preset, peak_rss_bytes: peak, peak_over_size: Number((peak / result.bytes).toFixed(3)) });
  }
  process.stdout.write(JSON.stringify(line) + '\n');
  return 0;
}

/** The model file of a preset's random weights (no tokenizer: a memory benchmark, not a usable model). */
async function exportPreset(name: string, quant: OnnxQuant, create: (path: string) => Promise<OutputFile>): Promise<OnnxExportResult> {
  const spec = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (!spec) throw new UsageError(`export --format onnx: --preset must be one of ${Object.keys(PRESETS).join(', ')} (got ${JSON.stringify(name)})`);
  const src = await openGeneratedSource(spec, (t) => randomWeight(spec, 1, t, quant), { name: `preset ${name}` });
  const files = await writeOnnxModel(buildDecoderGraph(src, quant), quant, create);
  return { quant, files, bytes: files.reduce((s, f) => s + f.bytes, 0) };
}
