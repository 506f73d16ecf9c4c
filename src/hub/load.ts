// Loading a model from the library: its files as a ModelFolder (config.json, tokenizer), its
// weights as a WeightSource (src/engine/model/weight-source.ts) that the engine streams to the GPU
// part by part (quantized weights stay quantized: QuantWeightBuffers for the matmul-q kernels).
import { loadModelSpec, type ModelFolder } from '../engine/model/weights';
import { checkFinitePart, PART_BYTES, partRows, partScratch, type WeightInfo, type WeightSource } from '../engine/model/weight-source';
import type { ModelSpec } from '../engine/model/spec';
import { decodeToF32, floatBytes, type StoredFormat } from '../io/dtype';
import { bytesSource } from '../io/safetensors';
import { qBytes, scaleBytes, type QuantizedTensor } from '../quant/format';
import { StoreMissingError, type ModelStore, type StoredModel } from './store';

/** The model's stored text files as a ModelFolder (weights are read through StoredModel instead). */
export function storedModelFolder(model: StoredModel): ModelFolder {
  return {
    name: model.manifest.name,
    has: async (f) => model.has(f),
    text: (f) => model.text(f),
    // The library keeps text files whole (config.json, tokenizer files): their bytes are the text's.
    // Weights are not files there; they are read through storedWeightSource.
    source: async (f) => {
      if (!(await model.has(f))) throw new StoreMissingError(`${model.manifest.name}: ${f} is not kept in the library (weights are read through its WeightSource)`);
      return bytesSource(`${model.manifest.name}/${f}`, new TextEncoder().encode(await model.text(f)));
    },
  };
}

/** Opens a complete model and parses its config (validated as at import). */
export async function openStoredModel(store: ModelStore, key: string): Promise<{ model: StoredModel; spec: ModelSpec; folder: ModelFolder }> {
  const model = await store.open(key);
  const folder = storedModelFolder(model);
  return { model, spec: await loadModelSpec(folder), folder };
}

/**
 * A library model's tensors as a WeightSource: each stored segment (≤ one 64 MiB chunk) is
 * handed out in row ranges of about PART_BYTES, int8/int4 as stored (they reach the GPU
 * quantized: a 4-bit model never exists in f32), f32/f16/bf16 decoded to f32. One chunk is
 * cached at a time (StoredModel.chunk), so a load holds one chunk plus one part on the host.
 */
export function storedWeightSource(model: StoredModel, partBytes = PART_BYTES): WeightSource {
  const tensors = new Map<string, WeightInfo>();
  for (const t of model.manifest.tensors) tensors.set(t.name, { name: t.name, shape: t.shape.slice(), format: t.format, rows: t.rows, cols: t.cols });
  const scratch = partScratch();
  return {
    name: model.manifest.name,
    tensors,
    async forEachPart(name, fn) {
      const t = model.entry(name);
      if (!t) throw new StoreMissingError(`${model.manifest.name}: tensor ${name} is not stored`);
      const group = partRows(t.cols, partBytes);
      for (const s of t.segments) {
        const bytes = (await model.chunk(s.chunk)).subarray(s.offset, s.offset + s.bytes);
        for (let r = 0; r < s.rows; r += group) {
          const g = Math.min(group, s.rows - r);
          const part = segmentRows(t.format, bytes, s.rows, t.cols, r, g, scratch);
          if ('data' in part) checkFinitePart(part.data, model.manifest.name, name, s.rowStart + r, t.cols);
          await fn({ rowStart: s.rowStart + r, rows: g, ...part });
        }
      }
    },
  };
}

/** Rows [r, r + g) of one stored segment (quantized: its codes, then its scales; else floats). */
function segmentRows(
  format: StoredFormat,
  bytes: Uint8Array,
  rows: number,
  cols: number,
  r: number,
  g: number,
  scratch: (values: number) => Float32Array,
): { quant: QuantizedTensor } | { data: Float32Array } {
  if (format === 'int8' || format === 'int4') {
    const qRow = qBytes(format, 1, cols);
    const sRow = scaleBytes(1, cols);
    const q = bytes.slice(r * qRow, (r + g) * qRow);
    const sc = bytes.slice(rows * qRow + r * sRow, rows * qRow + (r + g) * sRow);
    return { quant: { kind: format, rows: g, cols, qweight: new Uint32Array(q.buffer), scales: new Float32Array(sc.buffer) } };
  }
  const rowBytes = cols * floatBytes(format);
  return { data: decodeToF32(bytes.subarray(r * rowBytes, (r + g) * rowBytes), format, scratch(g * cols)) };
}
