// PEFT LoRA adapters: key names, initialization, adapter_config.json, reading and writing.
// Runs in Node and in the browser.

import { mulberry32 } from '../../util/prng';
import { parseSafetensors, readSafetensorsHeader, readTensorF32, writeSafetensors, FLOAT_DTYPES } from '../../io/safetensors';
import type { ModelFolder } from '../model/weights';
import type { HostTensor, ModelSpec, Projection } from '../model/spec';
import { EMBEDDING_MODULES, familyTargets, loraKey, parseModuleName, peftModuleNames, projectionShape, projectionsOf, layerOfName } from '../model/arch';
import { compileSafeRegex } from '../../io/untrusted/regex';
import { readUntrustedJson } from '../../io/untrusted/json';
import { MAX_LIST_ENTRIES, preview } from '../../io/untrusted/limits';
import { canonicalTargets, isAdaptedLayer, isProjection, LoraConfigError, siteLora, validateLoraSettings, type LoraSettings } from './config';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** PEFT's saved key of a LoRA matrix (the architecture table's). */
export { loraKey };

/** Every LoRA tensor of these settings with its shape, ordered by layer, module (the table's order), A then B. */
export function expectedLoraShapes(spec: ModelSpec, settings: LoraSettings): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const targets = familyTargets(spec, settings.targetModules);
  for (let i = 0; i < spec.numLayers; i++) {
    if (!isAdaptedLayer(settings, i)) continue;
    for (const p of targets) {
      const [out, inp] = projectionShape(spec, p);
      const { r } = siteLora(settings, i, p);
      m.set(loraKey(i, p, 'A'), [r, inp]);
      m.set(loraKey(i, p, 'B'), [out, r]);
    }
  }
  return m;
}

/**
 * PEFT's default init, deterministic from `seed`: A ~ U(-1/sqrt(in), 1/sqrt(in)) (what
 * kaiming_uniform_(a=sqrt(5)) gives), B = 0. Each tensor's values depend only on (seed, key).
 */
export function initLoraTensors(spec: ModelSpec, settings: LoraSettings, seed: number): Map<string, HostTensor> {
  validateLoraSettings(settings);
  const out = new Map<string, HostTensor>();
  for (const [key, shape] of expectedLoraShapes(spec, settings)) {
    const data = new Float32Array(shape[0] * shape[1]);
    if (key.endsWith('.lora_A.weight')) {
      const bound = 1 / Math.sqrt(shape[1]);
      const rand = mulberry32(hashKey(seed, key));
      for (let i = 0; i < data.length; i++) data[i] = (rand() * 2 - 1) * bound;
    }
    out.set(key, { shape, data });
  }
  return out;
}

function hashKey(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0; // FNV-1a, seeded
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * adapter_config.json content: exactly the fields that every PEFT from 0.7 to 0.21 loads (newer
 * fields would make older PEFT versions refuse the file).
 */
export function adapterConfigJson(settings: LoraSettings, opts: { baseModel: string | null; revision?: string | null }): object {
  validateLoraSettings(settings);
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: settings.r,
    lora_alpha: settings.alpha,
    lora_dropout: settings.dropout,
    target_modules: canonicalTargets(settings.targetModules),
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: settings.useRslora,
    use_dora: false,
    init_lora_weights: true,
    base_model_name_or_path: opts.baseModel,
    revision: opts.revision ?? null,
    inference_mode: true,
    modules_to_save: null,
    rank_pattern: { ...settings.rankPattern },
    alpha_pattern: { ...settings.alphaPattern },
    layers_to_transform: settings.layersToTransform ? [...settings.layersToTransform] : null,
    layers_pattern: null,
  };
}

export class AdapterError extends Error {
  override name = 'AdapterError';
}

/**
 * Serializes an adapter as PEFT saves it: adapter_config.json text and adapter_model.safetensors
 * (F32, metadata {"format": "pt"}). `tensors` must hold exactly the expected keys and shapes.
 */
export function writeAdapter(
  spec: ModelSpec,
  settings: LoraSettings,
  tensors: Map<string, HostTensor>,
  baseModel: string | null,
  opts: { revision?: string | null } = {},
): { config: string; safetensors: Uint8Array } {
  validateLoraSettings(settings);
  const expected = expectedLoraShapes(spec, settings);
  for (const key of tensors.keys()) {
    if (!expected.has(key)) throw new AdapterError(`writeAdapter: unexpected tensor "${key}" for these LoRA settings`);
  }
  const list = [...expected].map(([key, shape]) => {
    const t = tensors.get(key);
    if (!t) throw new AdapterError(`writeAdapter: missing tensor "${key}" (shape [${shape.join(', ')}])`);
    if (!sameShape(t.shape, shape) || t.data.length !== shape[0] * shape[1]) {
      throw new AdapterError(`writeAdapter: tensor "${key}" has shape [${t.shape.join(', ')}] (${t.data.length} values) but needs [${shape.join(', ')}]`);
    }
    return { name: key, dtype: 'F32' as const, shape: shape.slice(), data: t.data };
  });
  // target_modules as this family names them (a fused module for its separate parts).
  const named = { ...settings, targetModules: familyTargets(spec, settings.targetModules) };
  const config = JSON.stringify(adapterConfigJson(named, { baseModel, revision: opts.revision ?? null }), null, 2) + '\n';
  return { config, safetensors: writeSafetensors(list, { format: 'pt' }, ADAPTER_WEIGHTS_FILE) };
}

/** Options PEFT may set that change what the adapter computes: refused when set (truthy / non-empty). */
const REFUSED_OPTIONS: ReadonlyArray<[field: string, why: string]> = [
  ['use_dora', 'DoRA'],
  ['fan_in_fan_out', 'fan_in_fan_out (Conv1D-style weights)'],
  ['lora_bias', 'lora_bias'],
  ['modules_to_save', 'modules_to_save (fully trained extra modules)'],
  ['layer_replication', 'layer_replication'],
  ['target_parameters', 'target_parameters'],
  ['trainable_token_indices', 'trainable_token_indices'],
  ['alora_invocation_tokens', 'aLoRA (alora_invocation_tokens)'],
  ['use_qalora', 'QALoRA'],
  ['use_bdlora', 'use_bdlora'],
  ['arrow_config', 'arrow_config'],
  ['monteclora_config', 'monteclora_config'],
  ['kasa_config', 'kasa_config'],
  ['velora_config', 'velora_config'],
  ['megatron_config', 'megatron_config'],
];

function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/**
 * Parses adapter_config.json (already JSON-parsed) into LoraSettings for `spec`, refusing by name
 * whatever the engine does not compute. `file` is used in error messages.
 */
export function parseAdapterConfig(json: unknown, spec: ModelSpec, file = ADAPTER_CONFIG_FILE): { settings: LoraSettings; baseModel: string | null } {
  const fail = (msg: string): never => {
    throw new AdapterError(`${file}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('must be a JSON object');
  const c = json as Record<string, unknown>;
  if (c.peft_type !== 'LORA') fail(`peft_type ${preview(c.peft_type)} is not supported (supported: "LORA")`);
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'CAUSAL_LM') {
    fail(`task_type ${preview(c.task_type)} is not supported (supported: "CAUSAL_LM")`);
  }
  const bias = c.bias ?? 'none';
  if (bias !== 'none') fail(`bias ${preview(bias)} is not supported (supported: "none")`);
  for (const [field, what] of REFUSED_OPTIONS) {
    if (isSet(c[field])) fail(`${field} ${preview(c[field])}: ${what} is not supported`);
  }
  const init = c.init_lora_weights;
  if (typeof init === 'string' && /^(pissa|olora|corda|loftq)/i.test(init)) {
    fail(`init_lora_weights ${preview(init)} is not supported: this initialization changes the base weights (convert the adapter to a plain LoRA first)`);
  }
  const base = c.base_model_name_or_path;
  if (base !== undefined && base !== null && typeof base !== 'string') fail(`base_model_name_or_path must be a string or null, not ${preview(base)}`);

  const num = (k: string, def: number): number => {
    const v = c[k] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(`${k} must be a number, not ${preview(v)}`);
    return v;
  };
  const useRslora = c.use_rslora ?? false;
  if (typeof useRslora !== 'boolean') fail(`use_rslora must be true or false, not ${preview(useRslora)}`);
  const pattern = (k: string): Record<string, number> | undefined => {
    const v = c[k] ?? {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${k} must be an object of module patterns, not ${preview(v)}`);
    return Object.keys(v).length > 0 ? (v as Record<string, number>) : undefined;
  };
  const { targets, layers } = resolveTargetModules(c.target_modules, layerFilter(c, spec, fail), excludeFilter(c.exclude_modules, fail), spec, fail);
  const settings: LoraSettings = {
    r: num('r', 8), // PEFT's defaults
    alpha: num('lora_alpha', 8),
    dropout: num('lora_dropout', 0),
    targetModules: targets,
    useRslora: useRslora as boolean,
  };
  if (layers) settings.layersToTransform = layers;
  const rankPattern = pattern('rank_pattern');
  const alphaPattern = pattern('alpha_pattern');
  if (rankPattern) settings.rankPattern = rankPattern;
  if (alphaPattern) settings.alphaPattern = alphaPattern;
  try {
    validateLoraSettings(settings, file);
  } catch (e) {
    if (e instanceof LoraConfigError) throw new AdapterError(e.message);
    throw e;
  }
  return { settings, baseModel: (base as string | null | undefined) ?? null };
}

/**
 * layers_to_transform (+ layers_pattern) as PEFT applies it to a module name, or null when unset.
 * PEFT takes the layer index after the layer list's name ("model.layers.3.…" → 3); these models
 * keep their layers in `model.layers`, so layers_pattern may only name "layers".
 */
function layerFilter(c: Record<string, unknown>, spec: ModelSpec, fail: (msg: string) => never): ((layer: number) => boolean) | null {
  const v = c.layers_to_transform;
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return null;
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length > MAX_LIST_ENTRIES || !list.every((l) => Number.isSafeInteger(l) && (l as number) >= 0)) {
    return fail(`layers_to_transform must be a layer index or a list of layer indices (integers ≥ 0), not ${preview(v)}`);
  }
  const pattern = c.layers_pattern;
  const names = pattern === undefined || pattern === null ? [] : Array.isArray(pattern) ? pattern : [pattern];
  if (names.some((n) => n !== 'layers')) {
    fail(`layers_pattern ${preview(pattern)} names no layer list of this model (its decoder layers are model.layers.0..${spec.numLayers - 1}: use "layers" or null)`);
  }
  return (layer) => (list as number[]).includes(layer);
}

/** PEFT's list matching of module names: an entry equal to the name, or to a dot-separated tail of it. */
function listMatches(entries: readonly string[], name: string): boolean {
  return entries.some((e) => name === e || name.endsWith(`.${e}`));
}

/** exclude_modules as PEFT applies it: a full-match regex string, or a list matched as listMatches. */
function excludeFilter(v: unknown, fail: (msg: string) => never): ((name: string) => boolean) | null {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return null;
  if (typeof v === 'string') {
    const re = compileSafeRegex(v, 'exclude_modules', (field, detail) => fail(`${field} ${detail}; use a list of module names`));
    return (n) => re.fullMatch(n);
  }
  if (Array.isArray(v) && v.length > MAX_LIST_ENTRIES) fail(`exclude_modules lists ${v.length} modules, more than the ${MAX_LIST_ENTRIES} allowed`);
  if (Array.isArray(v) && v.every((e) => typeof e === 'string')) return (n) => listMatches(v as string[], n);
  return fail(`exclude_modules must be a list of module names or a string, not ${preview(v)}`);
}

/**
 * target_modules (with layers_to_transform and exclude_modules) → the projections adapted, and the
 * layers that get them when not every layer does. A list matches as PEFT does: a module name equal
 * to an entry always counts, one ending with "." + entry counts in the layers `inLayer` allows
 * (entries matching nothing are ignored, as PEFT ignores them). A string is PEFT's full-match regex (PEFT applies no
 * layers_to_transform to it), except that "all-linear" means all seven projections and a plain
 * projection name (e.g. "q_proj") is taken as that projection. Every adapted layer must adapt the
 * same projections.
 */
function resolveTargetModules(
  value: unknown,
  inLayer: ((layer: number) => boolean) | null,
  excluded: ((name: string) => boolean) | null,
  spec: ModelSpec,
  fail: (msg: string) => never,
): { targets: Projection[]; layers: number[] | null } {
  const layerOf = layerOfName;
  const modules = projectionsOf(spec);
  let match: (name: string) => boolean;
  let shown: string;
  if (typeof value === 'string' && (value === 'all-linear' || isProjection(value))) {
    const named: readonly string[] = value === 'all-linear' ? modules : [value];
    match = (n) => named.some((p) => n.endsWith(`.${p}`));
    shown = `target_modules ${JSON.stringify(value)}`;
  } else if (typeof value === 'string') {
    // PEFT's re.fullmatch, on the linear-time matcher: the pattern comes from an untrusted file.
    const re = compileSafeRegex(value, 'target_modules', (field, detail) => fail(`${field} ${detail}; use a list of module names (${modules.join(', ')})`));
    match = (n) => re.fullMatch(n);
    shown = `target_modules regex ${preview(value, 200)}`;
  } else if (Array.isArray(value) && value.length > MAX_LIST_ENTRIES) {
    return fail(`target_modules lists ${value.length} modules, more than the ${MAX_LIST_ENTRIES} allowed`);
  } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    const entries = value as string[];
    match = (n) => {
      if (!listMatches(entries, n)) return false;
      if (entries.includes(n) || !inLayer) return true; // a full name is taken whatever its layer
      const layer = layerOf(n);
      return layer !== null && inLayer(layer);
    };
    shown = `target_modules ${preview(entries, 200)}${inLayer ? ' with layers_to_transform' : ''}`;
  } else {
    return fail(`target_modules must be a list of module names or a string, not ${preview(value)}`);
  }

  const perLayer: Array<Set<Projection>> = Array.from({ length: spec.numLayers }, () => new Set());
  for (const name of peftModuleNames(spec)) {
    if (!match(name) || excluded?.(name)) continue;
    const m = parseModuleName(name);
    if (m && isProjection(m.module) && modules.includes(m.module)) {
      perLayer[m.layer].add(m.module);
    } else if (EMBEDDING_MODULES.includes(name)) {
      fail(`${shown} selects ${name}: LoRA on ${name} is not supported (supported: ${modules.join(', ')})`);
    } else {
      fail(`${shown} selects ${name}, which is not a Linear layer (supported: ${modules.join(', ')})`);
    }
  }
  const adapted = perLayer.map((set, layer) => ({ layer, key: canonicalTargets([...set]).join(',') })).filter((l) => l.key !== '');
  if (adapted.length === 0) fail(`${shown} selects no module of this model (supported: ${modules.join(', ')})`);
  const odd = adapted.find((l) => l.key !== adapted[0].key);
  if (odd) {
    fail(
      `${shown} selects different projections in different layers (layer ${adapted[0].layer}: ${adapted[0].key}; layer ${odd.layer}: ${odd.key}); ` +
        'every adapted layer must adapt the same projections',
    );
  }
  const targets = canonicalTargets([...perLayer[adapted[0].layer]]);
  return { targets, layers: adapted.length === spec.numLayers ? null : adapted.map((l) => l.layer) };
}

/**
 * Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) for `spec`:
 * every expected tensor must be present with the right shape; unexpected tensors are refused.
 * Tensors are returned in f32, in expectedLoraShapes order.
 */
export async function readAdapter(
  folder: ModelFolder,
  spec: ModelSpec,
): Promise<{ settings: LoraSettings; tensors: Map<string, HostTensor>; baseModel: string | null }> {
  const cfgFile = `${folder.name}/${ADAPTER_CONFIG_FILE}`;
  if (!(await folder.has(ADAPTER_CONFIG_FILE))) throw new AdapterError(`${cfgFile}: missing`);
  const json = await readUntrustedJson(folder, ADAPTER_CONFIG_FILE, {}, (_field, detail) => {
    throw new AdapterError(`${cfgFile} ${detail}`);
  });
  const { settings, baseModel } = parseAdapterConfig(json, spec, cfgFile);

  const wFile = `${folder.name}/${ADAPTER_WEIGHTS_FILE}`;
  if (!(await folder.has(ADAPTER_WEIGHTS_FILE))) {
    const bin = await folder.has('adapter_model.bin');
    throw new AdapterError(`${wFile}: missing${bin ? ' (adapter_model.bin is not supported: save the adapter with safe_serialization=True)' : ''}`);
  }
  const src = await folder.source(ADAPTER_WEIGHTS_FILE);
  const index = await readSafetensorsHeader(src);
  const expected = expectedLoraShapes(spec, settings);
  const unexpected = [...index.tensors.keys()].filter((k) => !expected.has(k));
  if (unexpected.length > 0) {
    const more = unexpected.length > 3 ? ` and ${unexpected.length - 3} more` : '';
    throw new AdapterError(
      `${wFile}: unexpected tensor${unexpected.length > 1 ? 's' : ''} ${unexpected
        .slice(0, 3)
        .map((k) => `"${k}"`)
        .join(', ')}${more} (not a LoRA A/B matrix of ${settings.targetModules.join(', ')} in ${
        settings.layersToTransform
          ? `layer${settings.layersToTransform.length > 1 ? 's' : ''} ${settings.layersToTransform.join(', ')}`
          : `layers 0..${spec.numLayers - 1}`
      })`,
    );
  }
  for (const [key, shape] of expected) {
    const info = index.tensors.get(key);
    if (!info) throw new AdapterError(`${wFile}: missing tensor "${key}" (shape [${shape.join(', ')}])`);
    if (!sameShape(info.shape, shape)) {
      const rank = key.endsWith('.lora_A.weight') ? shape[0] : shape[1];
      throw new AdapterError(`${wFile}: tensor "${key}" has shape [${info.shape.join(', ')}] but r=${rank} and the model need [${shape.join(', ')}]`);
    }
    if (!FLOAT_DTYPES.includes(info.dtype)) throw new AdapterError(`${wFile}: tensor "${key}" has dtype ${info.dtype} (supported: ${FLOAT_DTYPES.join(', ')})`);
  }
  const tensors = new Map<string, HostTensor>();
  for (const [key, shape] of expected) tensors.set(key, { shape: shape.slice(), data: await readTensorF32(src, index, key) });
  return { settings, tensors, baseModel };
}

/** Parses adapter_model.safetensors bytes (as writeAdapter produced them) into f32 tensors. */
export function parseAdapterWeights(bytes: Uint8Array, name = ADAPTER_WEIGHTS_FILE): Map<string, HostTensor> {
  const st = parseSafetensors(name, bytes);
  return new Map(st.names().map((k) => [k, { shape: st.index.tensors.get(k)!.shape.slice(), data: st.f32(k) }]));
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
