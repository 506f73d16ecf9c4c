// Loads a Hugging Face model folder (config.json + model.safetensors or sharded safetensors) into
// f32 host tensors, checking every tensor the engine needs. Runs in Node and in the browser: the
// folder abstraction hides where the bytes come from (Node files, browser File objects, IndexedDB).

import { bytesSource, readSafetensorsHeader, readTensorF32, FLOAT_DTYPES, type ByteSource, type SafetensorsIndex } from '../../io/safetensors';
import { parseModelConfig, ModelConfigError } from './config';
import { parseUntrustedJson, readUntrustedJson } from '../../io/untrusted/json';
import { PROJECTIONS, projectionShape, projectionWeightName, projectionModule, type HostTensor, type ModelSpec } from './spec';

/** A folder of model files, wherever they live. File names are relative, '/'-separated. */
export interface ModelFolder {
  name: string;
  has(file: string): Promise<boolean>;
  text(file: string): Promise<string>;
  source(file: string): Promise<ByteSource>;
}

export class ModelWeightsError extends Error {
  override name = 'ModelWeightsError';
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** Every tensor the engine reads, with its expected shape, in a stable order. */
export function expectedWeightShapes(spec: ModelSpec): Map<string, number[]> {
  const C = spec.hiddenSize;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [spec.vocabSize, C]);
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [C]);
    for (const proj of PROJECTIONS) {
      const shape = projectionShape(spec, proj);
      const w = projectionWeightName(i, proj);
      m.set(w, shape);
      const attn = projectionModule(proj) === 'self_attn';
      const bias = attn ? (proj === 'o_proj' ? spec.oBias : spec.qkvBias) : spec.mlpBias;
      if (bias) m.set(w.replace(/\.weight$/, '.bias'), [shape[0]]);
      if (proj === 'v_proj' && spec.qkNorm) {
        m.set(`${p}.self_attn.q_norm.weight`, [spec.headDim]);
        m.set(`${p}.self_attn.k_norm.weight`, [spec.headDim]);
      }
    }
    m.set(`${p}.post_attention_layernorm.weight`, [C]);
  }
  m.set('model.norm.weight', [C]);
  if (!spec.tieWordEmbeddings) m.set('lm_head.weight', [spec.vocabSize, C]);
  return m;
}

export interface LoadWeightsOptions {
  /** Called after each tensor is read and converted. */
  onTensor?(name: string, done: number, total: number): void;
}

/**
 * Reads model.safetensors, or the shards named by model.safetensors.index.json, checks that every
 * expected tensor exists with the expected shape and a float dtype (before reading any data),
 * then converts each to f32. Extra tensors are ignored (so is lm_head.weight when tied).
 */
export async function loadModelWeights(folder: ModelFolder, spec: ModelSpec, options: LoadWeightsOptions = {}): Promise<Map<string, HostTensor>> {
  const fail = (msg: string): never => {
    throw new ModelWeightsError(`${folder.name}: ${msg}`);
  };
  const expected = expectedWeightShapes(spec);

  // tensor name → file that holds it
  const fileOf = new Map<string, string>();
  let files: string[];
  if (await folder.has(SINGLE_FILE)) {
    files = [SINGLE_FILE];
    for (const name of expected.keys()) fileOf.set(name, SINGLE_FILE);
  } else if (await folder.has(INDEX_FILE)) {
    const weightMap = parseIndex(await folder.text(INDEX_FILE), fail);
    files = [...new Set(weightMap.values())];
    for (const f of files) {
      if (!(await folder.has(f))) fail(`shard "${f}" named in ${INDEX_FILE} is missing`);
    }
    for (const name of expected.keys()) {
      const f = weightMap.get(name);
      if (f === undefined) fail(`tensor "${name}" (shape [${expected.get(name)!.join(', ')}]) is not in the weight_map of ${INDEX_FILE}`);
      fileOf.set(name, f!);
    }
  } else {
    const hint = (await folder.has('pytorch_model.bin')) || (await folder.has('pytorch_model.bin.index.json')) ? ' (PyTorch .bin checkpoints are not supported: convert to safetensors)' : '';
    return fail(`no ${SINGLE_FILE} or ${INDEX_FILE}${hint}`);
  }

  // Open every file and validate its header (cheap: headers only).
  const opened = new Map<string, { src: ByteSource; index: SafetensorsIndex }>();
  for (const f of files) {
    const src = await folder.source(f);
    opened.set(f, { src, index: await readSafetensorsHeader(src) });
  }

  // Check every expected tensor before reading any data.
  for (const [name, shape] of expected) {
    const f = fileOf.get(name)!;
    const info = opened.get(f)!.index.tensors.get(name);
    if (!info) fail(`tensor "${name}" (shape [${shape.join(', ')}]) is missing from ${f}`);
    if (!sameShape(info!.shape, shape)) {
      fail(`tensor "${name}" in ${f} has shape [${info!.shape.join(', ')}] but the config implies [${shape.join(', ')}]`);
    }
    if (!FLOAT_DTYPES.includes(info!.dtype)) {
      fail(`tensor "${name}" in ${f} has dtype ${info!.dtype} (supported: ${FLOAT_DTYPES.join(', ')})`);
    }
  }

  const out = new Map<string, HostTensor>();
  let done = 0;
  for (const [name, shape] of expected) {
    const { src, index } = opened.get(fileOf.get(name)!)!;
    out.set(name, { shape: shape.slice(), data: await readTensorF32(src, index, name) });
    options.onTensor?.(name, ++done, expected.size);
  }
  return out;
}

/** Parses model.safetensors.index.json into tensor name → shard file. */
function parseIndex(text: string, fail: (msg: string) => never): Map<string, string> {
  const json = parseUntrustedJson(text, INDEX_FILE, {}, (_field, detail) => fail(`${INDEX_FILE} ${detail}`));
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) return fail(`${INDEX_FILE}: missing weight_map object`);
  const out = new Map<string, string>();
  for (const [name, f] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof f !== 'string' || !safeFileName(f)) {
      fail(`${INDEX_FILE}: weight_map["${name}"] must be a relative file name in the folder, not ${JSON.stringify(f)}`);
    }
    out.set(name, f as string);
  }
  return out;
}

/** A relative path that stays inside the folder. */
export function safeFileName(f: string): boolean {
  if (f === '' || f.startsWith('/') || f.includes('\\') || f.includes('\0') || /^[a-zA-Z]:/.test(f)) return false;
  return f.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Parses config.json, then loads the weights it describes. */
export async function loadModelFolder(
  folder: ModelFolder,
  options: LoadWeightsOptions = {},
): Promise<{ spec: ModelSpec; weights: Map<string, HostTensor> }> {
  const spec = await loadModelSpec(folder);
  return { spec, weights: await loadModelWeights(folder, spec, options) };
}

/** Parses the folder's config.json (no weights are read). */
export async function loadModelSpec(folder: ModelFolder): Promise<ModelSpec> {
  const file = `${folder.name}/config.json`;
  if (!(await folder.has('config.json'))) throw new ModelConfigError(`${file}: missing`);
  const json = await readUntrustedJson(folder, 'config.json', {}, (_field, detail) => {
    throw new ModelConfigError(`${file} ${detail}`);
  });
  return parseModelConfig(json, file);
}

/** A ModelFolder over files held in memory (bytes or text), e.g. downloaded or from IndexedDB. */
export function memoryFolder(name: string, files: Record<string, Uint8Array | string> | Map<string, Uint8Array | string>): ModelFolder {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const get = (f: string): Uint8Array | string => {
    const v = map.get(f);
    if (v === undefined) throw new ModelWeightsError(`${name}: file "${f}" not found`);
    return v;
  };
  return {
    name,
    has: async (f) => map.has(f),
    text: async (f) => {
      const v = get(f);
      return typeof v === 'string' ? v : new TextDecoder().decode(v);
    },
    source: async (f) => {
      const v = get(f);
      const bytes = typeof v === 'string' ? new TextEncoder().encode(v) : v;
      return bytesSource(`${name}/${f}`, bytes);
    },
  };
}
