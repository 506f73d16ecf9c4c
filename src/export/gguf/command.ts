// `cli export --format gguf|gguf-adapter --model DIR [--adapter DIR|ZIP] [--type f32|f16|q8_0|q4_0] --out DIR`
// Prints {"format", "type", "files", "bytes"} (and "warnings" when there are any). Every file is
// written through the atomic sink (../atomic-sink.ts) and renamed only once all of them are
// complete, so a failure leaves nothing half-written in --out.

import { readTokenizerFiles } from '../../data/tokenizer';
import { readFile, stat } from 'node:fs/promises';
import { checkOutDir, OutDirError } from '../out-dir';
import { atomicFiles, commitOrAbort } from '../atomic-sink';
import { join } from 'node:path';
import { parseCommandLine, UsageError } from '../../cli/args';
import { nodeFolder } from '../../io/node-files';
import { adapterZipFolder } from '../../engine/lora/adapter-zip';
import type { ModelFolder } from '../../engine/model/weights';
import { openFolderSource } from '../source';
import { parseExportType, planGgufExport, type GgufFormat } from './export';

async function adapterFolder(path: string): Promise<ModelFolder> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new UsageError(`--adapter ${path}: no such file or folder`);
  if (st.isDirectory()) return nodeFolder(path);
  if (/\.zip$/i.test(path)) return adapterZipFolder(new Uint8Array(await readFile(path)), path);
  throw new UsageError(`--adapter ${path}: expected a PEFT adapter folder or a .zip`);
}


export async function run(format: string, args: string[]): Promise<number> {
  const p = parseCommandLine(`export --format ${format}`, args, { values: ['format', 'model', 'adapter', 'type', 'out'], bools: [] });
  const fmt = format as GgufFormat;
  const model = p.flags.model;
  const out = p.flags.out;
  if (!model) throw new UsageError(`export --format ${format}: --model MODEL_DIR is required`);
  if (!out) throw new UsageError(`export --format ${format}: --out OUT_DIR is required`);
  if (fmt === 'gguf-adapter' && !p.flags.adapter) throw new UsageError('export --format gguf-adapter: --adapter ADAPTER_DIR|ZIP is required');
  let type: ReturnType<typeof parseExportType>;
  try {
    type = parseExportType(p.flags.type, fmt);
  } catch (e) {
    throw new UsageError(`export --format ${format}: ${(e as Error).message}`);
  }

  const folder = nodeFolder(model);
  const src = await openFolderSource(folder, { adapter: p.flags.adapter ? await adapterFolder(p.flags.adapter) : null });
  const plan = planGgufExport(src, await readTokenizerFiles(folder), fmt, type);

  await checkOutDir('--out', out);
  for (const f of plan.files) {
    if (await stat(join(out, f.name)).catch(() => null)) throw new OutDirError('--out', out, `already holds ${f.name}; choose an empty folder`);
  }
  // Every file through the one atomic sink: all renamed into place once all are complete.
  const written = atomicFiles(out);
  let bytes = 0;
  await commitOrAbort(written, async () => {
    for (const f of plan.files) {
      const file = await written.create(f.name);
      bytes += await f.write(file);
      await file.close();
    }
  });
  const result: Record<string, unknown> = { format: fmt, type, files: plan.files.map((f) => join(out, f.name)), bytes };
  if (plan.warnings.length) result.warnings = plan.warnings;
  process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}
