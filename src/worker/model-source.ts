// Where a model's files come from, as a ModelFolder (src/engine/model/weights.ts) plus its
// weights as a WeightSource (nothing read yet: the engine streams them to the GPU when a run or
// "Try it" needs them): the demo in public/demo (fetched), or a model of the library (src/hub's
// IndexedDB store; int8/int4 matrices stay quantized all the way to the GPU).
import { expectedWeightShapes, INDEX_FILE, memoryFolder, openModelFolder, parseWeightIndex, SINGLE_FILE, type ModelFolder } from '../engine/model/weights';
import type { ModelSpec } from '../engine/model/spec';
import { checkWeightShapes, type WeightSource } from '../engine/model/weight-source';
import { openStoredModel, storedWeightSource } from '../hub/load';
import { idbKeyValue, ModelStore } from '../hub/store';
import type { ModelSource, Progress } from './protocol';

export class ModelDownloadError extends Error {
  override name = 'ModelDownloadError';
}

type OnProgress = (p: Progress) => void;

const TEXT_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const REQUIRED = new Set(['config.json', 'tokenizer.json']);

export interface OpenedModel {
  folder: ModelFolder;
  spec: ModelSpec;
  weights: WeightSource;
  name: string;
  /** The Hub id when known (base_model_name_or_path of the adapter). */
  hubId: string | null;
  randomWeights: boolean;
  /** Bytes of the weights as stored (files, or the library's chunks). */
  weightBytes: number;
  /** none, int8 or int4 (library models). */
  quant: string;
}

export async function openModelSource(source: ModelSource, onProgress: OnProgress): Promise<OpenedModel> {
  if (source.kind === 'demo') {
    const { folder, weightBytes } = await fetchFolder('Demo model', source.baseUrl, onProgress);
    const { spec, weights } = await openModelFolder(folder);
    return { folder, spec, weights, name: 'Demo model', hubId: null, randomWeights: true, weightBytes, quant: 'none' };
  }
  const { model, folder, spec } = await openStoredModel(new ModelStore(idbKeyValue()), source.key);
  const m = model.manifest;
  const weights = storedWeightSource(model);
  checkWeightShapes(weights, expectedWeightShapes(spec)); // from the manifest: no data read
  return { folder, spec, weights, name: m.hubId ?? m.name, hubId: m.hubId, randomWeights: false, weightBytes: m.totalBytes, quant: m.quant };
}

/** Downloads one file with byte progress; null on 404 (optional files). */
async function download(url: string, label: string, onProgress: OnProgress): Promise<Uint8Array | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new ModelDownloadError(`${label}: could not fetch ${url} (${(e as Error).message})`);
  }
  if (res.status === 404) return null;
  if (!res.ok) throw new ModelDownloadError(`${label}: ${url} answered HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  onProgress({ phase: 'download', label, done: bytes.byteLength, total: bytes.byteLength, unit: 'bytes' });
  return bytes;
}

/** A model folder served next to the app (the demo), fetched whole. */
async function fetchFolder(name: string, baseUrl: string, onProgress: OnProgress): Promise<{ folder: ModelFolder; weightBytes: number }> {
  const files = new Map<string, Uint8Array>();
  const get = async (f: string, required: boolean): Promise<Uint8Array | null> => {
    const url = new URL(f, baseUrl).href;
    const bytes = await download(url, f, onProgress);
    if (!bytes && required) throw new ModelDownloadError(`${name}: ${f} is missing (looked at ${url})`);
    if (bytes) files.set(f, bytes);
    return bytes;
  };
  for (const f of TEXT_FILES) await get(f, REQUIRED.has(f));
  let weightBytes = 0;
  const single = await get(SINGLE_FILE, false);
  if (single) weightBytes = single.byteLength;
  else {
    const index = await get(INDEX_FILE, false);
    if (!index) throw new ModelDownloadError(`${name}: neither ${SINGLE_FILE} nor ${INDEX_FILE} was found`);
    // The index through the one reader (size, depth, shard names inside the folder), as from disk and the Hub.
    const map = parseWeightIndex(new TextDecoder().decode(index), (msg) => {
      throw new ModelDownloadError(`${name}: ${msg}`);
    });
    for (const shard of new Set(map.values())) weightBytes += (await get(shard, true))!.byteLength;
  }
  return { folder: memoryFolder(name, files), weightBytes };
}
