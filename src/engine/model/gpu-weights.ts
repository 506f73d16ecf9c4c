// The frozen base model on the GPU. Every projection goes through linear.ts, the one place that
// knows how a weight is stored (f32 today; the quantized formats plug in there).
import type { Buf, Gpu } from '../../gpu/gpu';
import { createQuantWeight, destroyQuantWeight, writeQuantRows, type QuantWeightBuffers } from '../kernels/matmul-q';
import { quantize, type QuantKind } from '../../quant/format';
import { PROJECTIONS, projectionModule, type ModelSpec, type Projection } from './spec';
import { asWeightSource, checkWeightShapes, ModelWeightsError, type BaseTensor, type WeightInfo, type WeightSource } from './weight-source';
import { expectedWeightShapes } from './weights';

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
  inputNorm: Buf;
  postNorm: Buf;
  /** (head_dim) Qwen3 per-head norms, else null. */
  qNorm: Buf | null;
  kNorm: Buf | null;
  proj: Record<Projection, LinearWeight>;
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
  const source = asWeightSource(weights);
  const expected = expectedWeightShapes(spec);
  checkWeightShapes(source, expected);
  const buffers: GPUBuffer[] = [];
  const quantized: QuantWeightBuffers[] = [];
  let pending = 0;
  let done = 0;
  const queued = async (bytes: number): Promise<void> => {
    pending += bytes;
    if (pending < FLUSH_BYTES) return;
    pending = 0;
    await gpu.device.queue.onSubmittedWorkDone();
  };
  const info = (name: string): WeightInfo => source.tensors.get(name)!;
  const vector = async (name: string): Promise<GPUBuffer> => {
    const t = info(name);
    if (t.format === 'int8' || t.format === 'int4') throw new ModelWeightsError(`${source.name}: tensor "${name}" is quantized, but only matrices may be`);
    const b = gpu.createBuffer(t.rows * t.cols * 4, name);
    buffers.push(b);
    await source.forEachPart(name, async (p) => {
      if ('quant' in p) throw new ModelWeightsError(`${source.name}: tensor "${name}" came quantized, but only matrices may be`);
      gpu.write(b, p.data, p.rowStart * t.cols * 4);
      await queued(p.data.byteLength);
    });
    onTensor?.(name, ++done, expected.size);
    return b;
  };
  const matrix = async (name: string): Promise<MatrixWeight> => {
    const t = info(name);
    const kind: QuantKind | null = t.format === 'int8' || t.format === 'int4' ? t.format : quant === 'none' ? null : quant;
    if (kind === null) return vector(name);
    const w = createQuantWeight(gpu, kind, t.rows, t.cols, name);
    quantized.push(w);
    await source.forEachPart(name, async (p) => {
      const part = 'quant' in p ? p.quant : quantize(p.data, p.rows, t.cols, kind);
      writeQuantRows(gpu, w, p.rowStart, part);
      await queued(part.qweight.byteLength + part.scales.byteLength);
    });
    onTensor?.(name, ++done, expected.size);
    return w;
  };
  const maybe = async (name: string, present: boolean): Promise<GPUBuffer | null> => (present ? vector(name) : null);
  const layers: LayerWeightsGpu[] = [];
  try {
    for (let l = 0; l < spec.numLayers; l++) {
      const p = `model.layers.${l}`;
      const proj = {} as Record<Projection, LinearWeight>;
      for (const name of PROJECTIONS) {
        const base = `${p}.${projectionModule(name)}.${name}`;
        const hasBias =
          name === 'o_proj' ? spec.oBias : projectionModule(name) === 'mlp' ? spec.mlpBias : spec.qkvBias;
        proj[name] = { weight: await matrix(`${base}.weight`), bias: await maybe(`${base}.bias`, hasBias) };
      }
      layers.push({
        inputNorm: await vector(`${p}.input_layernorm.weight`),
        postNorm: await vector(`${p}.post_attention_layernorm.weight`),
        qNorm: await maybe(`${p}.self_attn.q_norm.weight`, spec.qkNorm),
        kNorm: await maybe(`${p}.self_attn.k_norm.weight`, spec.qkNorm),
        proj,
      });
    }
    const embed = await matrix('model.embed_tokens.weight');
    const lmHead = spec.tieWordEmbeddings ? embed : await matrix('lm_head.weight');
    const norm = await vector('model.norm.weight');
    await gpu.device.queue.onSubmittedWorkDone();
    return { quant, embed, layers, norm, lmHead, buffers, quantized };
  } catch (e) {
    // A failed load frees what it had uploaded.
    for (const b of buffers) gpu.destroyBuffer(b);
    for (const q of quantized) destroyQuantWeight(gpu, q);
    throw e;
  }
}

export function destroyModelWeights(gpu: Gpu, w: ModelWeightsGpu): void {
  for (const b of w.buffers) gpu.destroyBuffer(b);
  for (const q of w.quantized) destroyQuantWeight(gpu, q);
}
