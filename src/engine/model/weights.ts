// A Hugging Face model folder (config.json + model.safetensors or sharded safetensors) as a
// WeightSource (weight-source.ts), checking every tensor the engine needs from the headers first.
// Runs in Node and in the browser: the folder abstraction hides where the bytes come from (Node
// files, browser File objects, bytes in memory).

import {
  bytesSource,
  readSafetensorsHeader,
  DTYPE_SIZE,
  FLOAT_DTYPES,
  type ByteSource,
  type Dtype,
  type SafetensorsIndex,
  type TensorInfo,
} from '../../io/safetensors';
import { decodeToF32, type FloatDtype } from '../../io/dtype';
import { checkFinitePart, ModelWeightsError, PART_BYTES, partRows, partScratch, readHostWeights, rowsCols, type WeightFormat, type WeightInfo, type WeightSource } from './weight-source';
import { parseModelConfig, ModelConfigError } from './config';
import { parseUntrustedJson, readUntrustedJson } from '../../io/untrusted/json';
import type { HostTensor, ModelSpec } from './spec';
import { expectedWeightShapes } from './arch';

/** A folder of model files, wherever they live. File names are relative, '/'-separated. */
export interface ModelFolder {
  name: string;
  has(file: string): Promise<boolean>;
  text(file: string): Promise<string>;
  source(file: string): Promise<ByteSource>;
}

export { ModelWeightsError };

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** Every tensor the engine reads, with its expected shape: the architecture table's (./arch). */
export { expectedWeightShapes };

export interface LoadWeightsOptions {
  /** Called after each tensor is read and converted. */
  onTensor?(name: string, done: number, total: number): void;
}

/** Tensor name → the weights file that holds it: the single file, or the index's weight_map. */
export async function weightFileMap(
  names: Iterable<string>,
  has: (file: string) => Promise<boolean>,
  text: (file: string) => Promise<string>,
  fail: (msg: string) => never,
): Promise<Map<string, string> | null> {
  if (await has(SINGLE_FILE)) return new Map([...names].map((n) => [n, SINGLE_FILE]));
  if (!(await has(INDEX_FILE))) return null;
  return parseWeightIndex(await text(INDEX_FILE), fail);
}

/**
 * Checks every expected tensor against the headers before any data is read: named in the
 * index, present in its file with the expected shape and a float dtype. Returns each one's file
 * and header entry. Used by the folder source below and by the importer (src/hub/import.ts).
 */
export function checkWeightHeaders(
  expected: ReadonlyMap<string, number[]>,
  fileOf: ReadonlyMap<string, string>,
  headers: ReadonlyMap<string, SafetensorsIndex>,
  fail: (msg: string) => never,
): Map<string, { file: string; info: TensorInfo }> {
  const out = new Map<string, { file: string; info: TensorInfo }>();
  for (const [name, shape] of expected) {
    const f = fileOf.get(name);
    if (f === undefined) fail(`tensor "${name}" (shape [${shape.join(', ')}]) is not in the weight_map of ${INDEX_FILE}`);
    const info = headers.get(f!)?.tensors.get(name);
    if (!info) return fail(`tensor "${name}" (shape [${shape.join(', ')}]) is missing from ${f}`);
    if (!sameShape(info.shape, shape)) fail(`tensor "${name}" in ${f} has shape [${info.shape.join(', ')}] but the config implies [${shape.join(', ')}]`);
    if (!FLOAT_DTYPES.includes(info.dtype)) fail(`tensor "${name}" in ${f} has dtype ${info.dtype} (supported: ${FLOAT_DTYPES.join(', ')})`);
    out.set(name, { file: f!, info });
  }
  return out;
}

const FORMAT_OF: Partial<Record<Dtype, WeightFormat>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', F64: 'f64' };

/**
 * model.safetensors, or the shards named by model.safetensors.index.json, as a WeightSource of
 * the tensors `spec` needs: every one is checked (present, expected shape, float dtype) from the
 * headers before any data is read; a tensor is then read row range by row range on demand.
 * Extra tensors are ignored (so is the LM head's weight when tied).
 */
export async function folderWeightSource(folder: ModelFolder, spec: ModelSpec, partBytes = PART_BYTES): Promise<WeightSource> {
  const fail = (msg: string): never => {
    throw new ModelWeightsError(`${folder.name}: ${msg}`);
  };
  const expected = expectedWeightShapes(spec);
  const fileOf = await weightFileMap(expected.keys(), (f) => folder.has(f), (f) => folder.text(f), fail);
  if (!fileOf) {
    const hint = (await folder.has('pytorch_model.bin')) || (await folder.has('pytorch_model.bin.index.json')) ? ' (PyTorch .bin checkpoints are not supported: convert to safetensors)' : '';
    return fail(`no ${SINGLE_FILE} or ${INDEX_FILE}${hint}`);
  }
  const files = [...new Set(fileOf.values())];
  for (const f of files) {
    if (!(await folder.has(f))) fail(`shard "${f}" named in ${INDEX_FILE} is missing`);
  }
  // Open every file and validate its header (cheap: headers only).
  const sources = new Map<string, ByteSource>();
  const headers = new Map<string, SafetensorsIndex>();
  for (const f of files) {
    const src = await folder.source(f);
    sources.set(f, src);
    headers.set(f, await readSafetensorsHeader(src));
  }
  const found = checkWeightHeaders(expected, fileOf, headers, fail);
  const tensors = new Map<string, WeightInfo>();
  for (const [name, { info }] of found) {
    const [rows, cols] = rowsCols(info.shape);
    tensors.set(name, { name, shape: info.shape.slice(), format: FORMAT_OF[info.dtype]!, rows, cols });
  }
  const scratch = partScratch();
  return {
    name: folder.name,
    tensors,
    async forEachPart(name, fn) {
      const at = found.get(name);
      if (!at) return fail(`tensor "${name}" is not one the model reads`);
      const src = sources.get(at.file)!;
      const { rows, cols } = tensors.get(name)!;
      const rowBytes = cols * DTYPE_SIZE[at.info.dtype];
      const group = partRows(cols, partBytes);
      for (let r = 0; r < rows; r += group) {
        const g = Math.min(group, rows - r);
        const bytes = await src.read(at.info.begin + r * rowBytes, g * rowBytes);
        if (bytes.byteLength !== g * rowBytes) fail(`${at.file}: tensor "${name}": read of ${g * rowBytes} bytes returned ${bytes.byteLength}`);
        const data = decodeToF32(bytes, at.info.dtype as FloatDtype, scratch(g * cols));
        checkFinitePart(data, `${folder.name}/${at.file}`, name, r, cols);
        await fn({ rowStart: r, rows: g, data });
      }
    },
  };
}

/**
 * Every tensor the engine reads, as f32 host tensors (CPU reference paths and tests; the engine
 * itself streams from folderWeightSource).
 */
export async function loadModelWeights(folder: ModelFolder, spec: ModelSpec, options: LoadWeightsOptions = {}): Promise<Map<string, HostTensor>> {
  const source = await folderWeightSource(folder, spec);
  return readHostWeights(source, expectedWeightShapes(spec).keys(), options.onTensor);
}

/** Parses model.safetensors.index.json into tensor name → shard file (a .safetensors file inside the folder). */
export function parseWeightIndex(text: string, fail: (msg: string) => never): Map<string, string> {
  const json = parseUntrustedJson(text, INDEX_FILE, {}, (_field, detail) => fail(`${INDEX_FILE} ${detail}`));
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) return fail(`${INDEX_FILE}: missing weight_map object`);
  const out = new Map<string, string>();
  for (const [name, f] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof f !== 'string' || !safeFileName(f) || !f.endsWith('.safetensors')) {
      fail(`${INDEX_FILE}: weight_map["${name}"] must be a relative file name in the folder ending in .safetensors, not ${JSON.stringify(f)}`);
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

/** Parses config.json and opens the weights it describes (nothing read yet but headers). */
export async function openModelFolder(folder: ModelFolder): Promise<{ spec: ModelSpec; weights: WeightSource }> {
  const spec = await loadModelSpec(folder);
  return { spec, weights: await folderWeightSource(folder, spec) };
}

/** Parses config.json, then loads the weights it describes as f32 host tensors (CPU paths, tests). */
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
