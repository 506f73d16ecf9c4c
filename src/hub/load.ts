// Loading a model from the library for training: its files as a ModelFolder (config.json,
// tokenizer), its weights streamed to the GPU segment by segment (quantized weights stay quantized:
// QuantWeightBuffers for the matmul-q kernels), or as f32 host tensors for the f32 engine path.
import type { Gpu } from '../gpu/gpu';
import { createQuantWeight, writeQuantRows, type QuantWeightBuffers } from '../engine/kernels/matmul-q';
import { loadModelSpec, type ModelFolder } from '../engine/model/weights';
import type { HostTensor, ModelSpec } from '../engine/model/spec';
import { StoreMissingError, type ModelStore, type StoredModel } from './store';
import type { QuantizedTensor } from '../quant/format';

/** The model's stored text files as a ModelFolder (weights are read through StoredModel instead). */
export function storedModelFolder(model: StoredModel): ModelFolder {
  return {
    name: model.manifest.name,
    has: async (f) => model.has(f),
    text: (f) => model.text(f),
    source: async (f) => {
      throw new StoreMissingError(`${model.manifest.name}: ${f} is not kept in the library (weights are stored quantized; read them with StoredModel)`);
    },
  };
}

/** Opens a complete model and parses its config (validated as at import). */
export async function openStoredModel(store: ModelStore, key: string): Promise<{ model: StoredModel; spec: ModelSpec; folder: ModelFolder }> {
  const model = await store.open(key);
  const folder = storedModelFolder(model);
  return { model, spec: await loadModelSpec(folder), folder };
}

/** Every tensor as f32 (dequantized when quantized): what the f32 engine path takes. */
export async function storedHostWeights(model: StoredModel): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const name of model.tensorNames) out.set(name, await model.tensorF32(name));
  return out;
}

/**
 * Every tensor as the engine takes it: matrices stored int8/int4 stay quantized (the trainer
 * uploads them as they are, so a 4-bit model never exists in f32), the rest as f32.
 */
export async function storedEngineWeights(model: StoredModel, names: Iterable<string>, onTensor?: (name: string, done: number, total: number) => void): Promise<Map<string, HostTensor | QuantizedTensor>> {
  const list = [...names];
  const out = new Map<string, HostTensor | QuantizedTensor>();
  for (const [i, name] of list.entries()) {
    const t = await model.tensor(name);
    out.set(name, 'quant' in t ? t.quant : { shape: t.shape, data: t.data });
    onTensor?.(name, i + 1, list.length);
  }
  return out;
}

export type GpuWeight = { kind: 'quant'; weight: QuantWeightBuffers } | { kind: 'f32'; buffer: GPUBuffer; shape: number[] };

/**
 * Uploads one stored tensor, chunk segment by chunk segment (never the whole tensor on the host):
 * int8/int4 into QuantWeightBuffers (for linearForwardQ / linearBackwardInputQ / embeddingForwardQ),
 * f32/f16/bf16 into an f32 storage buffer.
 */
export async function uploadStoredWeight(gpu: Gpu, model: StoredModel, name: string): Promise<GpuWeight> {
  const t = model.entry(name);
  if (!t) throw new StoreMissingError(`${model.manifest.name}: tensor ${name} is not stored`);
  if (t.format === 'int8' || t.format === 'int4') {
    const weight = createQuantWeight(gpu, t.format, t.rows, t.cols, name);
    await model.forEachSegment(name, (r0, part) => {
      if ('quant' in part) writeQuantRows(gpu, weight, r0, part.quant);
    });
    return { kind: 'quant', weight };
  }
  const buffer = gpu.createBuffer(t.rows * t.cols * 4, name);
  await model.forEachSegment(name, (r0, part) => {
    if ('data' in part) gpu.write(buffer, part.data, r0 * t.cols * 4);
  });
  return { kind: 'f32', buffer, shape: t.shape.slice() };
}
