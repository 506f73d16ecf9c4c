// The one way the engine reads a base model's weights: a WeightSource hands out tensors one at a
// time, row range by row range, from wherever they live (a safetensors folder: Node files, browser
// File objects or bytes in memory, see weights.ts; a model of the library in IndexedDB, see
// src/hub/load.ts; tensors already in memory, hostWeightSource). The GPU upload
// (gpu-weights.ts) streams each part to its buffer and drops it, so nothing holds the whole model
// on the host; the CPU paths that need a host copy read the tensors they need on demand.
import { concatRows, dequantize, type QuantizedTensor } from '../../quant/format';
import type { StoredFormat } from '../../io/dtype';
import type { HostTensor } from './spec';

/** How a tensor is held at its source: block-quantized (int8/int4), or floats of some width. */
export type WeightFormat = StoredFormat | 'f64';

export interface WeightInfo {
  name: string;
  shape: number[];
  format: WeightFormat;
  /** shape[0] and the product of the rest (1-D: rows = 1, cols = length). */
  rows: number;
  cols: number;
}

/** A row range of one tensor: block-quantized as held at the source, or f32 values. */
export type WeightPart =
  | { rowStart: number; rows: number; quant: QuantizedTensor }
  | { rowStart: number; rows: number; data: Float32Array };

export interface WeightSource {
  /** Shown in error messages (a folder or model name). */
  readonly name: string;
  /** Every tensor it holds (shape and format known without reading data). */
  readonly tensors: ReadonlyMap<string, WeightInfo>;
  /**
   * Calls fn with each row range of a tensor, in order, each at most about PART_BYTES as f32 (a
   * part is not kept after fn returns, so fn copies what it needs).
   */
  forEachPart(name: string, fn: (part: WeightPart) => void | Promise<void>): Promise<void>;
}

/** A base-model tensor held on the host: f32, or a matrix already block-quantized. */
export type BaseTensor = HostTensor | QuantizedTensor;

export function isHostQuantized(t: BaseTensor): t is QuantizedTensor {
  return (t as QuantizedTensor).qweight !== undefined;
}

/** Target size of one part (f32 bytes): bounds the host memory of a streamed load. */
export const PART_BYTES = 8 * 1024 * 1024;

export class ModelWeightsError extends Error {
  override name = 'ModelWeightsError';
}

/**
 * Refuses a part holding NaN or ±Inf, naming the tensor, `file` and the first bad row and column.
 * Each weight source calls it on every float part it decodes, so a damaged base model is refused as
 * it loads (before any quantization, upload or export) and never shows up later as "divergence".
 */
export function checkFinitePart(data: Float32Array, file: string, tensor: string, rowStart: number, cols: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      const row = rowStart + Math.floor(i / Math.max(1, cols));
      throw new ModelWeightsError(`${file}: tensor "${tensor}" holds ${v} at row ${row}, column ${i % Math.max(1, cols)}: the weights are damaged (not finite)`);
    }
  }
}

export function rowsCols(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [1, shape[0]];
  return [shape[0], shape.slice(1).reduce((a, b) => a * b, 1)];
}

/**
 * A reusable f32 buffer for parts (a part is dead once fn returns, so the next one may reuse it):
 * a streamed load then allocates no garbage per part, which the collector would free only later.
 */
export function partScratch(): (values: number) => Float32Array {
  let buf = new Float32Array(0);
  return (values) => {
    if (buf.length < values) buf = new Float32Array(values);
    return buf.subarray(0, values);
  };
}

/** Rows per part for a tensor of `cols` columns (at least one row). */
export function partRows(cols: number, partBytes = PART_BYTES): number {
  return Math.max(1, Math.floor(partBytes / (4 * Math.max(1, cols))));
}

/** Tensors already in memory (tests, random-weight presets) as a WeightSource. */
export function hostWeightSource(name: string, weights: ReadonlyMap<string, BaseTensor>): WeightSource {
  const tensors = new Map<string, WeightInfo>();
  for (const [t, w] of weights) {
    if (isHostQuantized(w)) tensors.set(t, { name: t, shape: [w.rows, w.cols], format: w.kind, rows: w.rows, cols: w.cols });
    else {
      const [rows, cols] = rowsCols(w.shape);
      tensors.set(t, { name: t, shape: w.shape.slice(), format: 'f32', rows, cols });
    }
  }
  return {
    name,
    tensors,
    async forEachPart(t, fn) {
      const w = weights.get(t);
      if (!w) throw new ModelWeightsError(`${name}: tensor "${t}" is missing`);
      // Already on the host: one part, a view (no copy).
      if (isHostQuantized(w)) await fn({ rowStart: 0, rows: w.rows, quant: w });
      else await fn({ rowStart: 0, rows: tensors.get(t)!.rows, data: w.data });
    },
  };
}

/** A WeightSource, or tensors in memory wrapped as one. */
export function asWeightSource(weights: WeightSource | ReadonlyMap<string, BaseTensor>, name = 'weights'): WeightSource {
  return weights instanceof Map ? hostWeightSource(name, weights) : (weights as WeightSource);
}

/** Throws ModelWeightsError naming the first tensor of `expected` that is missing or has another shape. */
export function checkWeightShapes(source: WeightSource, expected: ReadonlyMap<string, number[]>): void {
  for (const [name, shape] of expected) {
    const info = source.tensors.get(name);
    if (!info) throw new ModelWeightsError(`${source.name}: tensor "${name}" (shape [${shape.join(', ')}]) is missing`);
    const [rows, cols] = rowsCols(shape);
    if (info.rows !== rows || info.cols !== cols) {
      throw new ModelWeightsError(`${source.name}: tensor "${name}" has shape [${info.shape.join(', ')}] but the config implies [${shape.join(', ')}]`);
    }
  }
}

/** One whole tensor on the host, quantized as held or f32 (for the CPU paths that need it). */
export async function readTensor(source: WeightSource, name: string): Promise<BaseTensor> {
  const info = source.tensors.get(name);
  if (!info) throw new ModelWeightsError(`${source.name}: tensor "${name}" is missing`);
  if (info.format === 'int8' || info.format === 'int4') {
    const parts: QuantizedTensor[] = [];
    await source.forEachPart(name, (p) => {
      if (!('quant' in p)) throw new ModelWeightsError(`${source.name}: tensor "${name}" is stored ${info.format} but a part came as floats`);
      parts.push(p.quant);
    });
    return parts.length === 1 ? parts[0] : concatRows(parts);
  }
  const data = new Float32Array(info.rows * info.cols);
  await source.forEachPart(name, (p) => data.set('quant' in p ? dequantize(p.quant) : p.data, p.rowStart * info.cols));
  return { shape: info.shape.slice(), data };
}

/** One whole tensor as f32 (dequantized when quantized). */
export async function readHostTensor(source: WeightSource, name: string): Promise<HostTensor> {
  const t = await readTensor(source, name);
  return isHostQuantized(t) ? { shape: source.tensors.get(name)!.shape.slice(), data: dequantize(t) } : t;
}

/** A host copy of the named tensors as f32 (CPU reference paths and tests, never the engine's load). */
export async function readHostWeights(
  source: WeightSource,
  names: Iterable<string>,
  onTensor?: (name: string, done: number, total: number) => void,
): Promise<Map<string, HostTensor>> {
  const list = [...names];
  const out = new Map<string, HostTensor>();
  for (const [i, name] of list.entries()) {
    out.set(name, await readHostTensor(source, name));
    onTensor?.(name, i + 1, list.length);
  }
  return out;
}

/** Parameters of the named tensors (the model's size as the page shows it). */
export function weightParams(source: WeightSource, names: Iterable<string>): number {
  let n = 0;
  for (const name of names) {
    const t = source.tensors.get(name);
    if (t) n += t.rows * t.cols;
  }
  return n;
}
