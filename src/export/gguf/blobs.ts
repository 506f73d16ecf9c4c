// A GGUF export as the page downloads it (the worker): the files streamed, tensor by tensor, into
// one stored .zip (the one streaming zip, src/util/zip.ts) whose bytes are folded into Blobs as
// they come (BlobSink), so the browser may keep a multi-GB export in its Blob store rather than in
// ArrayBuffers, and nothing reads a whole file back. Each file is also handed out as a slice of
// that .zip (no copy), for "Push to the Hub".

import type { BaseTensor, WeightSource } from '../../engine/model/weight-source';
import type { ModelSpec } from '../../engine/model/spec';
import type { ModelFolder } from '../../engine/model/weights';
import { readTokenizerFiles } from '../../data/tokenizer';
import { storedZipFiles } from '../../io/untrusted/zip';
import { BlobSink } from '../../util/byte-sink';
import { ZipWriter } from '../../util/zip';
import { openMemorySource } from '../source';
import { planGgufExport, type GgufFormat } from './export';
import type { ExportType } from './ggml-types';

export interface GgufZip {
  /** The .zip of every file of the export (GGUF, Modelfile, README). */
  zip: Blob;
  /** Each file, a slice of `zip`. */
  files: { name: string; blob: Blob }[];
  warnings: string[];
}

/** The loaded model (+ the trained adapter's folder, when given) exported as GGUF files in one .zip. */
export async function ggufZip(
  model: { spec: ModelSpec; weights: WeightSource | ReadonlyMap<string, BaseTensor>; folder: ModelFolder; name: string },
  adapter: ModelFolder | null,
  format: GgufFormat,
  type: ExportType,
): Promise<GgufZip> {
  const src = await openMemorySource(model.spec, model.weights, { name: model.name, adapter });
  const plan = planGgufExport(src, await readTokenizerFiles(model.folder), format, type);
  const sink = new BlobSink();
  const zip = new ZipWriter(sink);
  for (const f of plan.files) {
    const entry = await zip.create(f.name);
    await f.write(entry);
    await entry.close();
  }
  await zip.finish();
  const blob = sink.blob('application/zip');
  return { zip: blob, files: await storedZipFiles(blob, 'gguf.zip'), warnings: plan.warnings };
}
