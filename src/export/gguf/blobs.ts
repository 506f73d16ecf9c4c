// A GGUF export written into Blobs (the page's worker): each file is streamed tensor by tensor
// into Blob parts, so the browser may keep a large file on disk rather than in one ArrayBuffer.

import type { BaseTensor, WeightSource } from '../../engine/model/weight-source';
import type { ModelSpec } from '../../engine/model/spec';
import type { ModelFolder } from '../../engine/model/weights';
import { openMemorySource } from '../source';
import { planGgufExport, readTokenizerFiles, type GgufFormat } from './export';
import type { ExportType } from './ggml-types';

export interface GgufBlobs {
  files: { name: string; blob: Blob }[];
  warnings: string[];
}

/** The loaded model (+ the trained adapter's folder, when given) exported as GGUF files in Blobs. */
export async function ggufBlobs(
  model: { spec: ModelSpec; weights: WeightSource | ReadonlyMap<string, BaseTensor>; folder: ModelFolder; name: string },
  adapter: ModelFolder | null,
  format: GgufFormat,
  type: ExportType,
): Promise<GgufBlobs> {
  const src = await openMemorySource(model.spec, model.weights, { name: model.name, adapter });
  const plan = planGgufExport(src, await readTokenizerFiles(model.folder), format, type);
  const files: GgufBlobs['files'] = [];
  for (const f of plan.files) {
    const parts: BlobPart[] = [];
    await f.write({ write: async (b) => void parts.push(b as Uint8Array<ArrayBuffer>) });
    files.push({ name: f.name, blob: new Blob(parts) });
  }
  return { files, warnings: plan.warnings };
}
