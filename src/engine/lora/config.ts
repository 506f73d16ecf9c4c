// LoRA settings (the subset of PEFT's LoraConfig the engine trains) and their validation.

import { ALL_PROJECTIONS, isProjection, loraModuleName, type Projection } from '../model/arch';
import { compileSafeRegex, type SafeRegex } from '../../io/untrusted/regex';
import { MAX_LIST_ENTRIES, MAX_LORA_RANK, preview } from '../../io/untrusted/limits';

export interface LoraSettings {
  /** Rank, an integer ≥ 1. */
  r: number;
  /** lora_alpha (> 0). */
  alpha: number;
  /** Dropout on the LoRA input, 0 ≤ dropout < 1. */
  dropout: number;
  /** Which projections get an adapter (non-empty, no repeats). */
  targetModules: Projection[];
  /** rsLoRA: scale alpha/sqrt(r) instead of alpha/r. */
  useRslora: boolean;
  /**
   * PEFT's rank_pattern / alpha_pattern: module-name patterns (e.g. "q_proj",
   * a full module name, "layers\\.[0-3]\\..*v_proj") mapped to the rank or alpha of the
   * modules they match, instead of r / alpha. Absent or empty = every module uses r and alpha.
   */
  rankPattern?: Readonly<Record<string, number>>;
  alphaPattern?: Readonly<Record<string, number>>;
  /** PEFT's layers_to_transform: the decoder layers that get adapters (ascending). Absent = every layer. */
  layersToTransform?: readonly number[];
}

export class LoraConfigError extends Error {
  override name = 'LoraConfigError';
}

/** The factor PEFT multiplies B·A·x by: alpha/r, or alpha/sqrt(r) with rsLoRA. */
export function loraScale(s: Pick<LoraSettings, 'r' | 'alpha' | 'useRslora'>): number {
  return s.useRslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;
}

export { isProjection, loraModuleName };

/**
 * The key of `patterns` that applies to `moduleName`, as PEFT's get_pattern_key picks it: the first
 * key, in the object's order, that matches the whole name or a dot-separated tail of it as a regex
 * (`^(.*\.)?(key)$`). Undefined when none does.
 */
export function patternKeyFor(patterns: Readonly<Record<string, number>>, moduleName: string): string | undefined {
  return Object.keys(patterns).find((key) => patternRegex(patterns, key).fullMatch(moduleName));
}

/** Compiled pattern keys per pattern object (keys are compiled once, not once per module). */
const compiled = new WeakMap<object, Map<string, SafeRegex>>();

/** PEFT's `re.match(rf"(.*\.)?({key})$", name)`, on the linear-time matcher (keys come from untrusted files). */
function patternRegex(patterns: object, key: string): SafeRegex {
  let byKey = compiled.get(patterns);
  if (!byKey) compiled.set(patterns, (byKey = new Map()));
  let re = byKey.get(key);
  if (!re) {
    re = compileSafeRegex(`(.*\\.)?(${key})`, `key ${preview(key)}`, (field, detail) => {
      throw new LoraConfigError(`${field} ${detail}`);
    });
    byKey.set(key, re);
  }
  return re;
}

/** Whether decoder layer `layer` gets adapters (layers_to_transform). */
export function isAdaptedLayer(s: LoraSettings, layer: number): boolean {
  return s.layersToTransform === undefined || s.layersToTransform.includes(layer);
}

/** Rank, alpha and scale of one adapted module, rank_pattern and alpha_pattern applied. */
export function siteLora(s: LoraSettings, layer: number, proj: Projection): { r: number; alpha: number; scale: number } {
  const name = loraModuleName(layer, proj);
  const rKey = s.rankPattern ? patternKeyFor(s.rankPattern, name) : undefined;
  const aKey = s.alphaPattern ? patternKeyFor(s.alphaPattern, name) : undefined;
  const r = rKey !== undefined ? s.rankPattern![rKey] : s.r;
  const alpha = aKey !== undefined ? s.alphaPattern![aKey] : s.alpha;
  return { r, alpha, scale: loraScale({ r, alpha, useRslora: s.useRslora }) };
}

/** Throws LoraConfigError naming the first bad field. */
export function validateLoraSettings(s: LoraSettings, where = 'LoRA settings'): void {
  const fail = (msg: string): never => {
    throw new LoraConfigError(`${where}: ${msg}`);
  };
  if (typeof s.r !== 'number' || !Number.isSafeInteger(s.r) || s.r < 1) fail(`r must be an integer ≥ 1, not ${preview(s.r)}`);
  if (s.r > MAX_LORA_RANK) fail(`r ${s.r} is more than the ${MAX_LORA_RANK} allowed`);
  if (typeof s.alpha !== 'number' || !Number.isFinite(s.alpha) || s.alpha <= 0) fail(`alpha must be a positive number, not ${preview(s.alpha)}`);
  if (typeof s.dropout !== 'number' || !(s.dropout >= 0 && s.dropout < 1)) fail(`dropout must be in [0, 1), not ${preview(s.dropout)}`);
  if (typeof s.useRslora !== 'boolean') fail(`useRslora must be true or false, not ${preview(s.useRslora)}`);
  if (!Array.isArray(s.targetModules) || s.targetModules.length === 0) {
    fail(`targetModules must be a non-empty list of ${ALL_PROJECTIONS.join(', ')}`);
  }
  const seen = new Set<string>();
  for (const t of s.targetModules) {
    if (!isProjection(t)) fail(`targetModules: ${preview(t)} is not a supported module (supported: ${ALL_PROJECTIONS.join(', ')})`);
    if (seen.has(t)) fail(`targetModules lists ${t} twice`);
    seen.add(t);
  }
  const layers = s.layersToTransform;
  if (layers !== undefined) {
    if (Array.isArray(layers) && layers.length > MAX_LIST_ENTRIES) fail(`layers_to_transform lists ${layers.length} layers, more than the ${MAX_LIST_ENTRIES} allowed`);
    if (!Array.isArray(layers) || layers.length === 0) fail(`layers_to_transform must be a non-empty list of layer indices, not ${preview(layers)}`);
    layers.forEach((l, i) => {
      if (!Number.isSafeInteger(l) || l < 0) fail(`layers_to_transform[${i}] must be a layer index (an integer ≥ 0), not ${preview(l)}`);
      if (i > 0 && l <= layers[i - 1]) fail(`layers_to_transform must list layers in ascending order without repeats (${preview(layers)})`);
    });
  }
  validatePattern(s.rankPattern, 'rank_pattern', (v) => Number.isSafeInteger(v) && v >= 1, 'an integer ≥ 1', fail);
  for (const [key, v] of Object.entries(s.rankPattern ?? {})) {
    if (v > MAX_LORA_RANK) fail(`rank_pattern[${preview(key)}] ${v} is more than the ${MAX_LORA_RANK} allowed`);
  }
  validatePattern(s.alphaPattern, 'alpha_pattern', (v) => Number.isFinite(v) && v > 0, 'a positive number', fail);
}

function validatePattern(
  p: Readonly<Record<string, number>> | undefined,
  field: string,
  ok: (v: number) => boolean,
  what: string,
  fail: (msg: string) => never,
): void {
  if (p === undefined) return;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(`${field} must be an object of module patterns, not ${preview(p)}`);
  const entries = Object.entries(p);
  if (entries.length > MAX_LIST_ENTRIES) fail(`${field} has ${entries.length} patterns, more than the ${MAX_LIST_ENTRIES} allowed`);
  for (const [key, v] of entries) {
    if (typeof v !== 'number' || !ok(v)) fail(`${field}[${preview(key)}] must be ${what}, not ${preview(v)}`);
    try {
      patternRegex(p, key);
    } catch (e) {
      fail(`${field} ${e instanceof LoraConfigError ? e.message : `key ${preview(key)} is not a regular expression this engine can read`}`);
    }
  }
}

/** The target modules in canonical (ALL_PROJECTIONS) order. */
export function canonicalTargets(targets: readonly Projection[]): Projection[] {
  return ALL_PROJECTIONS.filter((p) => targets.includes(p));
}
