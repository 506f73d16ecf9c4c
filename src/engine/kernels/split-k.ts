// The one split-K planner, for every GEMM that may split its reduction: the frozen linears'
// backward input products (matmul.ts, matmul-q.ts: the LM head's backward has ~100 output tiles
// and a reduction over the whole vocabulary) and the skinny LoRA products (lora.ts: a rank-wide
// side, a reduction over In, Out or the tokens). A split runs S slices of the reduction, one
// workgroup per output tile and slice, each writing its partial result to a scratch buffer
// (S, M, Nc); split_reduce (shaders/add.wgsl) then sums the slices in order into the real output,
// applying accumulate (and LoRA's alpha). The two families differ only in their policy numbers.
import { isView, type Buf } from '../../gpu/gpu';
import { kernelPolicy } from './policy';

/** Which policy numbers (policy.ts) a GEMM family splits by. */
export type SplitFamily = 'matmul' | 'lora';

/** The policy of a family: no split from minWorkgroups tiles up; aim at targetWorkgroups; no slice shorter than minSlice. */
function rule(family: SplitFamily): { minWorkgroups: number; targetWorkgroups: number; minSlice: number } {
  const p = kernelPolicy;
  return family === 'matmul'
    ? { minWorkgroups: p.matmulSplitMinWorkgroups, targetWorkgroups: p.matmulSplitTargetWorkgroups, minSlice: p.matmulSplitMinSlice }
    : { minWorkgroups: p.loraSplitTargetWorkgroups, targetWorkgroups: p.loraSplitTargetWorkgroups, minSlice: p.loraSplitMinSlice };
}

/**
 * Slices to ask for, given the plain grid's tile count and the reduction length K: 1 when the
 * tiles alone reach the family's minWorkgroups; otherwise enough slices to reach its
 * targetWorkgroups, but no slice shorter than its minSlice.
 */
export function splitSlices(family: SplitFamily, tiles: number, K: number): number {
  const r = rule(family);
  if (tiles >= r.minWorkgroups) return 1;
  const want = Math.ceil(r.targetWorkgroups / tiles);
  return Math.max(1, Math.min(want, Math.floor(K / r.minSlice)));
}

export interface SplitPlan {
  /** Output tiles of the plain grid. */
  tiles: number;
  /** Reduction slices in all: Σ partSlices; 1 (and split false) for the plain kernel. */
  slices: number;
  /** Whether the call runs split (partials, then split_reduce). */
  split: boolean;
  /** Rows of the reduction per slice: a multiple of `unit` (the whole reduction when unsplit). */
  kSlice: number;
  /** Slices of each part of the reduction (each part's last slice may be ragged). */
  partSlices: number[];
  /** Workgroups of the GEMM pass(es): tiles · slices. */
  workgroups: number;
  /** Scratch floats the partials need: slices · M · Nc (0 unsplit). */
  partialFloats: number;
}

/**
 * The split of a reduction made of parts (row ranges of W bound separately; one part for an f32
 * weight or a LoRA product) into at most about `slices` slices of kSlice rows, kSlice a multiple
 * of `unit` (the kernel's K step). Slices never straddle parts: each part is cut into
 * ceil(rows / kSlice), so with several parts the total can exceed the slices asked for by
 * parts − 1. Asking for 1 (or a reduction too short to cut) gives the plain kernel.
 */
export function splitPlan(M: number, Nc: number, parts: readonly number[], tiles: number, unit: number, slices: number): SplitPlan {
  const K = parts.reduce((a, b) => a + b, 0);
  const S = Math.max(1, Math.min(Math.floor(slices), Math.ceil(K / unit)));
  const plain: SplitPlan = { tiles, slices: 1, split: false, kSlice: K, partSlices: parts.map(() => 1), workgroups: tiles, partialFloats: 0 };
  if (S <= 1) return plain;
  const kSlice = Math.ceil(Math.ceil(K / S) / unit) * unit;
  const partSlices = parts.map((rows) => Math.max(1, Math.ceil(rows / kSlice)));
  const total = partSlices.reduce((a, b) => a + b, 0);
  if (total <= 1) return plain;
  return { tiles, slices: total, split: true, kSlice, partSlices, workgroups: tiles * total, partialFloats: total * M * Nc };
}

/** What a caller passes to let a GEMM split. */
export interface SplitScratch {
  /**
   * Scratch for the partial results, sized with the family's scratch function
   * (matmulSplitScratchFloats, loraSplitScratchFloats). Must not alias any operand of the call;
   * its contents are dead between calls. With too little room the split is narrowed to fit (down
   * to none); a forced `slices` that does not fit throws.
   */
  partials: Buf;
  /** Force the number of slices asked for (tests); default: the family's policy (splitSlices). */
  slices?: number;
}

/** The GEMM a call runs, as the planner sees it. */
export interface SplitGemm {
  /** Names the call in errors. */
  what: string;
  family: SplitFamily;
  M: number;
  Nc: number;
  /** Row counts of the reduction's parts (one part: [K]). */
  parts: readonly number[];
  tiles: number;
  /** The kernel's K step: slices are whole multiples of it. */
  unit: number;
}

function underlying(b: Buf): GPUBuffer {
  return isView(b) ? b.buffer : b;
}

/**
 * The plan a call runs: unsplit without `split`, else the policy's (or forced) slices over the
 * parts, narrowed to the scratch. Throws when the scratch aliases an operand of a split call.
 */
export function resolveSplit(g: SplitGemm, split: SplitScratch | undefined, operands: readonly Buf[]): SplitPlan {
  const { M, Nc, parts, tiles, unit } = g;
  const K = parts.reduce((a, b) => a + b, 0);
  if (!split) return splitPlan(M, Nc, parts, tiles, unit, 1);
  const asked = split.slices ?? splitSlices(g.family, tiles, K);
  let plan = splitPlan(M, Nc, parts, tiles, unit, asked);
  if (!plan.split) return plan;
  const room = Math.floor(split.partials.size / 4);
  if (plan.partialFloats > room) {
    if (split.slices !== undefined) throw new Error(`${g.what}: ${plan.slices} slices need ${plan.partialFloats} scratch floats, the buffer holds ${room}`);
    // The most slices that fit; parts may add up to parts − 1 over what is asked for.
    for (let s = Math.min(asked - 1, Math.floor(room / (M * Nc))); ; s--) {
      plan = splitPlan(M, Nc, parts, tiles, unit, s);
      if (!plan.split || plan.partialFloats <= room) break;
    }
    if (!plan.split) return plan;
  }
  const scratch = underlying(split.partials);
  if (operands.some((b) => underlying(b) === scratch)) throw new Error(`${g.what}: the split-K scratch aliases an operand`);
  return plan;
}
