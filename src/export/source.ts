// The weights an exporter writes: a base model (a Hugging Face folder, or tensors already in memory
// such as the studio's loaded model) and an optional PEFT adapter, checked against each other,
// handed out one base tensor at a time by its Hugging Face name (never the whole model at once)
// with the LoRA of each adapted projection beside it. Shared by every export format (ONNX, GGUF).
// Runs in Node and in the browser.

import { expectedWeightShapes, openModelFolder, type ModelFolder } from '../engine/model/weights';
import type { HostTensor, ModelSpec, Projection } from '../engine/model/spec';
import { projectionsOf, projectionWeightName } from '../engine/model/arch';
import { asWeightSource, checkWeightShapes, isHostQuantized, readTensor, type BaseTensor, type WeightSource } from '../engine/model/weight-source';
import { readAdapter, loraKey } from '../engine/lora/adapter';
import { isAdaptedLayer, siteLora, type LoraSettings } from '../engine/lora/config';
import { dequantize, quantize, type QuantKind, type QuantizedTensor } from '../quant/format';

export class ExportSourceError extends Error {
  override name = 'ExportSourceError';
}

/** The LoRA of one adapted projection: delta W = scale * B @ A. */
export interface LoraSite {
  layer: number;
  proj: Projection;
  r: number;
  alpha: number;
  /** alpha/r, or alpha/sqrt(r) with rsLoRA; rank_pattern / alpha_pattern applied. */
  scale: number;
  /** [r, in] */
  A: HostTensor;
  /** [out, r] */
  B: HostTensor;
}

export interface ExportAdapter {
  settings: LoraSettings;
  baseModel: string | null;
}

export interface ExportSource {
  spec: ModelSpec;
  /** Where the base came from (folder name), for messages. */
  name: string;
  /** The adapter's settings, or null when the base is exported alone. */
  adapter: ExportAdapter | null;
  /** Every base tensor's Hugging Face name and shape, in expectedWeightShapes order. */
  shapes: ReadonlyMap<string, readonly number[]>;
  /**
   * One base tensor by its Hugging Face name: f32 as stored (a folder), or already block-quantized
   * when the source holds it so (the studio's library models). Each call reads afresh: the caller
   * drops it when written.
   */
  tensor(name: string): Promise<BaseTensor>;
  /** One base tensor in f32 (a quantized one is dequantized: exactly the values the engine computes with). */
  tensorF32(name: string): Promise<HostTensor>;
  /** The LoRA of a projection, or null when the adapter does not adapt it (or there is no adapter). */
  lora(layer: number, proj: Projection): LoraSite | null;
  /** Every adapted projection, by layer then the family's module order. */
  loraSites(): LoraSite[];
}

/** The merged weight W + scale * B @ A of one projection (f32, a new array; W is not changed). */
export function mergeLora(w: HostTensor, site: LoraSite): HostTensor {
  const [out, inp] = w.shape;
  const r = site.r;
  if (site.A.shape[0] !== r || site.A.shape[1] !== inp || site.B.shape[0] !== out || site.B.shape[1] !== r) {
    throw new ExportSourceError(
      `LoRA of layer ${site.layer} ${site.proj}: A [${site.A.shape.join(', ')}] and B [${site.B.shape.join(', ')}] do not fit the weight [${w.shape.join(', ')}]`,
    );
  }
  const res = new Float32Array(w.data);
  const A = site.A.data;
  const B = site.B.data;
  const row = new Float64Array(inp);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k];
      if (b === 0) continue;
      const a0 = k * inp;
      for (let i = 0; i < inp; i++) row[i] += b * A[a0 + i];
    }
    const base = o * inp;
    for (let i = 0; i < inp; i++) res[base + i] = w.data[base + i] + site.scale * row[i];
  }
  return { shape: [out, inp], data: res };
}

/** W + scale * B @ A for one projection of the source (f32). Without a LoRA there, W as stored. */
export async function mergedProjection(src: ExportSource, layer: number, proj: Projection): Promise<HostTensor> {
  const w = await src.tensorF32(projectionWeightName(layer, proj));
  const site = src.lora(layer, proj);
  return site ? mergeLora(w, site) : w;
}

/**
 * The studio's block quantization of a (rows, cols) matrix (src/quant/format.ts, block 32, f32
 * scales): exactly the blocks the engine trained on. A tensor already quantized as `kind` is
 * returned as it is; one quantized otherwise is refused (requantizing would change the weights).
 */
export function quantizeTensor(t: BaseTensor, kind: QuantKind, name = 'tensor'): QuantizedTensor {
  if (isHostQuantized(t)) {
    if (t.kind !== kind) throw new ExportSourceError(`${name} is stored as ${t.kind}; exporting it as ${kind} would quantize it twice`);
    return t;
  }
  if (t.shape.length !== 2) throw new ExportSourceError(`${name} has shape [${t.shape.join(', ')}]: only matrices are quantized`);
  return quantize(t.data, t.shape[0], t.shape[1], kind);
}

function toF32(t: BaseTensor, shape: readonly number[]): HostTensor {
  return isHostQuantized(t) ? { shape: shape.slice(), data: dequantize(t) } : t;
}

/** Options shared by both ways of opening a source. */
export interface OpenSourceOptions {
  /** A PEFT adapter folder (adapter_config.json + adapter_model.safetensors), e.g. nodeFolder or a .zip's memoryFolder. */
  adapter?: ModelFolder | null;
}

/** Opens a Hugging Face model folder (config.json + safetensors, sharded or not) as an export source. */
export async function openFolderSource(folder: ModelFolder, opts: OpenSourceOptions = {}): Promise<ExportSource> {
  // The engine's own weight source: the same header checks and the same refusal of damaged
  // (non-finite) weights as training, tensor by tensor.
  const { spec, weights } = await openModelFolder(folder);
  return openMemorySource(spec, weights, { ...opts, name: folder.name });
}

/**
 * A source over the page's loaded model: its WeightSource (read tensor by tensor on demand, f32 or
 * block-quantized as held), or tensors already in memory, by Hugging Face name. Every expected
 * tensor must be there with its shape.
 */
export async function openMemorySource(
  spec: ModelSpec,
  weights: WeightSource | ReadonlyMap<string, BaseTensor>,
  opts: OpenSourceOptions & { name?: string } = {},
): Promise<ExportSource> {
  const name = opts.name ?? 'model';
  const source = asWeightSource(weights, name);
  const shapes = expectedWeightShapes(spec);
  try {
    checkWeightShapes(source, shapes);
  } catch (e) {
    throw new ExportSourceError((e as Error).message);
  }
  return withAdapter(spec, name, shapes, (t) => readTensor(source, t), opts.adapter ?? null);
}

/**
 * A source whose tensors are made on demand by `get` (e.g. a benchmark preset's random weights),
 * so that not even the base needs to be in memory at once. `get` must return the shapes of the spec.
 */
export async function openGeneratedSource(
  spec: ModelSpec,
  get: (name: string) => BaseTensor | Promise<BaseTensor>,
  opts: OpenSourceOptions & { name?: string } = {},
): Promise<ExportSource> {
  return withAdapter(spec, opts.name ?? 'model', expectedWeightShapes(spec), async (t) => get(t), opts.adapter ?? null);
}

async function withAdapter(
  spec: ModelSpec,
  name: string,
  shapes: Map<string, number[]>,
  read: (name: string) => Promise<BaseTensor>,
  adapterFolder: ModelFolder | null,
): Promise<ExportSource> {
  // readAdapter checks every LoRA tensor against the model (AdapterError naming the tensor).
  const adapter = adapterFolder ? await readAdapter(adapterFolder, spec) : null;
  const sites = new Map<string, LoraSite>();
  if (adapter) {
    for (let layer = 0; layer < spec.numLayers; layer++) {
      if (!isAdaptedLayer(adapter.settings, layer)) continue;
      for (const proj of projectionsOf(spec)) {
        if (!adapter.settings.targetModules.includes(proj)) continue;
        const A = adapter.tensors.get(loraKey(layer, proj, 'A'));
        const B = adapter.tensors.get(loraKey(layer, proj, 'B'));
        if (!A || !B) throw new ExportSourceError(`${adapterFolder!.name}: no LoRA tensors for layer ${layer} ${proj}`);
        sites.set(`${layer}.${proj}`, { layer, proj, ...siteLora(adapter.settings, layer, proj), A, B });
      }
    }
  }
  const tensor = async (t: string): Promise<BaseTensor> => {
    if (!shapes.has(t)) throw new ExportSourceError(`${name}: "${t}" is not a tensor of this model`);
    return read(t);
  };
  return {
    spec,
    name,
    adapter: adapter ? { settings: adapter.settings, baseModel: adapter.baseModel } : null,
    shapes,
    tensor,
    tensorF32: async (t) => toF32(await tensor(t), shapes.get(t)!),
    lora: (layer, proj) => sites.get(`${layer}.${proj}`) ?? null,
    loraSites: () => [...sites.values()],
  };
}

