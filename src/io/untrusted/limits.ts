// Plausible bounds for sizes and counts read from untrusted files, checked before anything is
// allocated from them. Each is far above every real checkpoint the engine could train (Llama 3.1
// 405B: 126 layers, hidden 16384, intermediate 53248; the largest vocabularies are ~262k), so a
// refusal means a damaged or hostile file, never a model that would otherwise work.

import type { Fail } from './errors';

export const MODEL_LIMITS = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 18,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  max_position_embeddings: 1 << 24,
  original_max_position_embeddings: 1 << 24,
  sliding_window: 1 << 24,
  sliding_window_pattern: 1024,
} as const satisfies Record<string, number>;

/** LoRA rank: PEFT users go to 256, rarely 1024; beyond the hidden size a rank means nothing. */
export const MAX_LORA_RANK = 4096;
/** Entries of rank_pattern / alpha_pattern / target_modules lists and the like. */
export const MAX_LIST_ENTRIES = 10_000;

/** `v` as an integer in [min, max], or a refusal naming `field` and the bound. */
export function boundedInt(v: unknown, field: string, min: number, max: number, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    return fail(field, `must be an integer ≥ ${min}, not ${preview(v)}`);
  }
  if (v > max) return fail(field, `${v} is more than the ${max} allowed`);
  return v;
}

/** A short JSON rendering of an untrusted value for a message (never recursing without bound). */
export function preview(v: unknown, max = 80): string {
  // JSON.parse reads 1e999 as Infinity, which JSON.stringify would show as "null".
  if (typeof v === 'number' && !Number.isFinite(v)) return `${v} (a number beyond the range of a float, such as 1e999)`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? 'a list' : typeof v;
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * Caps on run settings a user types (CLI flags, bench page fields) that size buffers or loops, by
 * field name. They sit far above what any GPU the engine runs on could hold (a batch of 1024
 * sequences of 2^20 tokens is 2^30 tokens of activations), so a refusal is a typo such as
 * `--rank 1e9`, named with its cap before anything is allocated. The GPU's own limits refuse
 * smaller impossible shapes later, by name (src/gpu/errors.ts).
 */
export const RUN_LIMITS: Readonly<Record<string, number>> = {
  rank: MAX_LORA_RANK,
  'batch-size': 1024,
  batch: 1024,
  'max-length': 1 << 20,
  seq: 1 << 20,
  prompt: 1 << 20,
  tokens: 1 << 20,
  layers: MODEL_LIMITS.num_hidden_layers,
  'grad-accum': 1 << 16,
  M: 1 << 16,
  N: 1 << 16,
  K: 1 << 16,
  reps: 1 << 20,
  steps: 1 << 24,
  'max-steps': 1 << 30,
  epochs: 1 << 20,
  warmup: 1 << 30,
  'eval-every': 1 << 30,
};

/** Why `value` of the run setting `field` is refused by RUN_LIMITS ("1000000000 is more than …"), or null. */
export function runLimitError(field: string, value: number): string | null {
  const max = Object.prototype.hasOwnProperty.call(RUN_LIMITS, field) ? RUN_LIMITS[field] : undefined;
  return max !== undefined && value > max ? `${value} is more than the ${max} allowed` : null;
}
