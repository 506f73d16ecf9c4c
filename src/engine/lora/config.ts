// LoRA settings (the subset of PEFT's LoraConfig the engine trains) and their validation.

import { PROJECTIONS, type Projection } from '../model/spec';

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
}

export class LoraConfigError extends Error {
  override name = 'LoraConfigError';
}

/** The factor PEFT multiplies B·A·x by: alpha/r, or alpha/sqrt(r) with rsLoRA. */
export function loraScale(s: LoraSettings): number {
  return s.useRslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;
}

export function isProjection(x: unknown): x is Projection {
  return typeof x === 'string' && (PROJECTIONS as readonly string[]).includes(x);
}

/** Throws LoraConfigError naming the first bad field. */
export function validateLoraSettings(s: LoraSettings, where = 'LoRA settings'): void {
  const fail = (msg: string): never => {
    throw new LoraConfigError(`${where}: ${msg}`);
  };
  if (typeof s.r !== 'number' || !Number.isSafeInteger(s.r) || s.r < 1) fail(`r must be an integer ≥ 1, not ${JSON.stringify(s.r)}`);
  if (typeof s.alpha !== 'number' || !Number.isFinite(s.alpha) || s.alpha <= 0) fail(`alpha must be a positive number, not ${JSON.stringify(s.alpha)}`);
  if (typeof s.dropout !== 'number' || !(s.dropout >= 0 && s.dropout < 1)) fail(`dropout must be in [0, 1), not ${JSON.stringify(s.dropout)}`);
  if (typeof s.useRslora !== 'boolean') fail(`useRslora must be true or false, not ${JSON.stringify(s.useRslora)}`);
  if (!Array.isArray(s.targetModules) || s.targetModules.length === 0) {
    fail(`targetModules must be a non-empty list of ${PROJECTIONS.join(', ')}`);
  }
  const seen = new Set<string>();
  for (const t of s.targetModules) {
    if (!isProjection(t)) fail(`targetModules: ${JSON.stringify(t)} is not a supported module (supported: ${PROJECTIONS.join(', ')})`);
    if (seen.has(t)) fail(`targetModules lists ${t} twice`);
    seen.add(t);
  }
}

/** The target modules in canonical (PROJECTIONS) order. */
export function canonicalTargets(targets: readonly Projection[]): Projection[] {
  return PROJECTIONS.filter((p) => targets.includes(p));
}
