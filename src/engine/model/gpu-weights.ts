// The frozen base model on the GPU. Every projection goes through linear.ts, the one place that
// knows how a weight is stored (f32 today; the quantized formats plug in there).
import type { Buf, Gpu } from '../../gpu/gpu';
import { createQuantWeight, destroyQuantWeight, writeQuantRows, type QuantWeightBuffers } from '../kernels/matmul-q';
import { quantize, type QuantKind } from '../../quant/format';
import type { ModelSpec, Projection } from './spec';
import { expectedWeightShapes, layerNormName, modelTensorNames, onePlusNormNames, projectionHasBias, projectionsOf, projectionWeightName, requiredNormName } from './arch';
import { asWeightSource, checkWeightShapes, ModelWeightsError, type BaseTensor, type WeightInfo, type WeightSource } from './weight-source';

/** How the frozen matrices (projections, embedding, LM head) are stored on the GPU. */
export type BaseQuant = 'none' | QuantKind;

/** Host tensors in memory (random presets, tests) also upload: asWeightSource wraps them. */
export type { BaseTensor };

/** A (rows, cols) matrix: f32, or block-quantized (src/quant/format.ts). */
export type MatrixWeight = Buf | QuantWeightBuffers;

export function isQuantized(w: MatrixWeight): w is QuantWeightBuffers {
  return (w as QuantWeightBuffers).kind !== undefined && (w as QuantWeightBuffers).scales !== undefined;
}

export interface LinearWeight {
  /** (out, in). */
  weight: MatrixWeight;
  /** (out) f32 or null. */
  bias: Buf | null;
}

export interface LayerWeightsGpu {
  /** (C) the norms by role (arch/types.ts LayerNormRole): before attention, before the MLP. */
  inputNorm: Buf;
  preFfnNorm: Buf;
  /** (C) Gemma's norms of the attention and MLP outputs, else null. */
  postAttnNorm: Buf | null;
  postFfnNorm: Buf | null;
  /** (head_dim) per-head norms (Qwen3, Gemma 3), else null. */
  qNorm: Buf | null;
  kNorm: Buf | null;
  /** The family's linear modules (projectionsOf(spec)). */
  proj: Partial<Record<Projection, LinearWeight>>;
}

/** A layer's linear module; throws when the family has no such module. */
export function linearWeight(w: LayerWeightsGpu, p: Projection): LinearWeight {
  const l = w.proj[p];
  if (!l) throw new ModelWeightsError(`this model has no ${p}`);
  return l;
}

export interface ModelWeightsGpu {
  quant: BaseQuant;
  /** (V, C) */
  embed: MatrixWeight;
  layers: LayerWeightsGpu[];
  /** (C) final norm. */
  norm: Buf;
  /** (V, C): the embedding itself when tied. */
  lmHead: MatrixWeight;
  buffers: GPUBuffer[];
  quantized: QuantWeightBuffers[];
}

/** Bytes queued with writeBuffer between waits for the queue: bounds the driver's staging memory. */
const FLUSH_BYTES = 16 * 1024 * 1024;

/**
 * Uploads the base model from a WeightSource, tensor by tensor and row range by row range: each
 * part is written to its GPU buffer and dropped, so the host never holds more than a part (and
 * the driver's staging copies, drained every FLUSH_BYTES). With quant int8/int4 every matrix
 * (projections, embedding, LM head) is block-quantized part by part (blocks run along a row, so
 * this equals quantizing the whole matrix); a matrix the source holds quantized (a library
 * model) is uploaded as it is, whatever `quant` says. Norms and biases stay f32.
 */
export async function uploadModelWeights(
  gpu: Gpu,
  spec: ModelSpec,
  weights: WeightSource | ReadonlyMap<string, BaseTensor>,
  quant: BaseQuant = 'none',
  onTensor?: (name: string, done: number, total: number) => void,
): Promise<ModelWeightsGpu> {
  const staged = stageModelWeights(gpu, spec, weights, quant);
  try {
    await staged.upload(onTensor);
  } catch (e) {
    // A failed load frees what it had allocated.
    destroyModelWeights(gpu, staged.weights);
    throw e;
  }
  return staged.weights;
}

/**
 * The model's GPU buffers, allocated (empty) at once, and `upload()`, which streams the tensors
 * into them as uploadModelWeights describes. Programs can be recorded against the buffers, and
 * their pipelines compiled, while the upload runs (Trainer.create). The caller frees the buffers
 * (destroyModelWeights) if the upload fails.
 */
export function stageModelWeights(
  gpu: Gpu,
  spec: ModelSpec,
  weights: WeightSource | ReadonlyMap<string, BaseTensor>,
  quant: BaseQuant = 'none',
): { weights: ModelWeightsGpu; upload(onTensor?: (name: string, done: number, total: number) => void): Promise<void> } {
  const source = asWeightSource(weights);
  const expected = expectedWeightShapes(spec);
  checkWeightShapes(source, expected);
  const buffers: GPUBuffer[] = [];
  const quantized: QuantWeightBuffers[] = [];
  /** Every tensor in upload order with the buffer it goes to. */
  const targets: Array<{ name: string; target: GPUBuffer | QuantWeightBuffers }> = [];
  const info = (name: string): WeightInfo => source.tensors.get(name)!;
  const vector = (name: string): GPUBuffer => {
    const t = info(name);
    if (t.format === 'int8' || t.format === 'int4') throw new ModelWeightsError(`${source.name}: tensor "${name}" is quantized, but only matrices may be`);
    const b = gpu.createBuffer(t.rows * t.cols * 4, name);
    buffers.push(b);
    targets.push({ name, target: b });
    return b;
  };
  const matrix = (name: string): MatrixWeight => {
    const t = info(name);
    const kind: QuantKind | null = t.format === 'int8' || t.format === 'int4' ? t.format : quant === 'none' ? null : quant;
    if (kind === null) return vector(name);
    const w = createQuantWeight(gpu, kind, t.rows, t.cols, name);
    quantized.push(w);
    targets.push({ name, target: w });
    return w;
  };
  const maybe = (name: string | null): GPUBuffer | null => (name !== null ? vector(name) : null);
  const layers: LayerWeightsGpu[] = [];
  let embed: MatrixWeight;
  let lmHead: MatrixWeight;
  let norm: GPUBuffer;
  try {
    for (let l = 0; l < spec.numLayers; l++) {
      const proj: Partial<Record<Projection, LinearWeight>> = {};
      for (const name of projectionsOf(spec)) {
        proj[name] = { weight: matrix(projectionWeightName(l, name)), bias: maybe(projectionHasBias(spec, name) ? projectionWeightName(l, name, 'bias') : null) };
      }
      layers.push({
        inputNorm: vector(requiredNormName(spec, l, 'input')),
        preFfnNorm: vector(requiredNormName(spec, l, 'pre_feedforward')),
        postAttnNorm: maybe(layerNormName(spec, l, 'post_attention')),
        postFfnNorm: maybe(layerNormName(spec, l, 'post_feedforward')),
        qNorm: maybe(layerNormName(spec, l, 'q_norm')),
        kNorm: maybe(layerNormName(spec, l, 'k_norm')),
        proj,
      });
    }
    const names = modelTensorNames(spec);
    embed = matrix(names.embed);
    lmHead = names.lmHead === null ? embed : matrix(names.lmHead);
    norm = vector(names.finalNorm);
  } catch (e) {
    for (const b of buffers) gpu.destroyBuffer(b);
    for (const q of quantized) destroyQuantWeight(gpu, q);
    throw e;
  }

  // Gemma's norms compute x·(1 + w): their weights go up as 1 + w (the table's value transform).
  const plusOne = onePlusNormNames(spec);
  const upload = async (onTensor?: (name: string, done: number, total: number) => void): Promise<void> => {
    let pending = 0;
    const queued = async (bytes: number): Promise<void> => {
      pending += bytes;
      if (pending < FLUSH_BYTES) return;
      pending = 0;
      await gpu.device.queue.onSubmittedWorkDone();
    };
    let done = 0;
    for (const { name, target } of targets) {
      const t = info(name);
      if (!isQuantized(target)) {
        await source.forEachPart(name, async (p) => {
          if ('quant' in p) throw new ModelWeightsError(`${source.name}: tensor "${name}" came quantized, but only matrices may be`);
          gpu.write(target, plusOne.has(name) ? p.data.map((v) => 1 + v) : p.data, p.rowStart * t.cols * 4);
          await queued(p.data.byteLength);
        });
      } else {
        await source.forEachPart(name, async (p) => {
          const part = 'quant' in p ? p.quant : quantize(p.data, p.rows, t.cols, target.kind);
          writeQuantRows(gpu, target, p.rowStart, part);
          await queued(part.qweight.byteLength + part.scales.byteLength);
        });
      }
      onTensor?.(name, ++done, expected.size);
    }
    await gpu.device.queue.onSubmittedWorkDone();
  };
  return { weights: { quant, embed, layers, norm, lmHead, buffers, quantized }, upload };
}

export function destroyModelWeights(gpu: Gpu, w: ModelWeightsGpu): void {
  for (const b of w.buffers) gpu.destroyBuffer(b);
  for (const q of w.quantized) destroyQuantWeight(gpu, q);
}
