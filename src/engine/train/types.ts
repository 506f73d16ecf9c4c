// The trainer's public contract, shared by the CLI, the worker and the UI.
import type { LoraSettings } from '../lora/config';

/**
 * One training batch, right-padded: B rows of T tokens, each row one example or, packed, several
 * (positions). labels are NOT shifted (-100 = ignored).
 */
export interface Batch {
  B: number;
  T: number;
  /** (B*T) token ids. */
  inputIds: Int32Array;
  /** (B*T) 1 = token, 0 = padding. */
  attentionMask: Int32Array;
  /** (B*T) the token itself where trained, -100 where masked; the loss predicts labels[t+1] from t. */
  labels: Int32Array;
  /** (B*T) optional: each token's position within its own example (0 at the example's first token).
   *  Absent = one example per row (positions 0..T-1). Token t of a row attends only to keys
   *  j in [t - positions[t], t] (its own example, causal), RoPE uses positions[t]. The packer sets
   *  labels to -100 at every example's first token, so no loss crosses a boundary. Padding tokens
   *  at a row's tail count on from 0 as their own example (attentionMask 0, labels -100). Each
   *  position is 0 or the previous one + 1 (the trainer refuses others, naming the token). */
  positions?: Int32Array;
  /**
   * A preference batch (DPO, IPO, ORPO): P pairs as B = 2P rows, rows 0..P-1 the chosen sequences
   * and P..2P-1 the rejected ones in the same order, one sequence per row (labels -100 on the
   * prompt and the padding). Absent for SFT.
   */
  pairs?: number;
}

export type Schedule = 'constant' | 'linear' | 'cosine';

/** The objective of a run (src/engine/train/objective.ts): SFT, or a preference loss over chosen/rejected pairs. */
export const METHODS = ['sft', 'dpo', 'ipo', 'orpo'] as const;
export type Method = (typeof METHODS)[number];

/** The adapter's settings as the trainer takes them (src/engine/lora/config.ts). */
export type LoraHyper = LoraSettings;

export interface TrainHyper {
  lr: number;
  schedule: Schedule;
  warmupSteps: number;
  /** Optimizer steps (each = gradAccum micro-batches). */
  maxSteps: number;
  gradAccum: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global L2 clip; 0 disables clipping. */
  maxGradNorm: number;
  seed: number;
  /** Keep only each layer's input; recompute the rest in backward. */
  checkpointing: boolean;
  /** The objective; absent in runs saved before it = 'sft'. */
  method: Method;
  /** DPO / IPO: beta; ORPO: lambda (the odds-ratio term's weight). Unused by SFT. */
  beta: number;
}

export interface StepResult {
  step: number;
  /** Mean loss over the counted tokens of the step's micro-batches, at the start of the step. */
  loss: number;
  /** Global gradient norm before clipping (null when not read back). */
  gradNorm: number | null;
  lr: number;
  tokens: number;
  /** A preference method's metrics by TRL's name (objective.ts METHOD_METRICS); absent for SFT. */
  metrics?: Partial<Record<string, number>>;
}

export const DEFAULT_TRAIN: TrainHyper = {
  lr: 2e-4,
  schedule: 'cosine',
  warmupSteps: 0,
  maxSteps: 100,
  gradAccum: 1,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 42,
  checkpointing: false,
  method: 'sft',
  beta: 0.1,
};

/** Tokens the loss counts in a batch: labels[t+1] != -100 within a row (what the trainer's shifted targets keep). */
export function countedTokens(batch: Batch): number {
  let n = 0;
  for (let b = 0; b < batch.B; b++) {
    for (let t = 1; t < batch.T; t++) if (batch.labels[b * batch.T + t] !== -100) n++;
  }
  return n;
}
