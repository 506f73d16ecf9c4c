// Frozen linear layers (shaders/matmul.wgsl): out = inp·Wᵀ (+ b) and dinp = dout·W, tiled GEMM on
// the GPU, and their plain-loop CPU twins. W is PyTorch's (Out, In). Also serves the LM head.
// Large outputs use a 128x128 tile instead (generated WGSL, matmul-tile128.ts; same CPU twins).
// The backward input product can split its reduction (split-K, below), as the LM head needs.
import code from '../../../shaders/matmul.wgsl?raw';
import { grid, isView, type Buf, type Recorder } from '../../gpu/gpu';
import { kernelPolicy } from './policy';
import { splitReduce } from './add';
import { matmul128Shader, matmulTileFor, resolveMatmulTile, TILE128, type MatmulTile } from './matmul-tile128';

export { matmulTileFor, type MatmulTile } from './matmul-tile128';

export const matmulShader = { name: 'matmul', code };

/** Output tile per workgroup (each thread computes 4x4 of it) and the k-slice staged per step. */
export const MATMUL_TILE = { TILE_M: 64, TILE_N: 64, TILE_K: 16 } as const;

// ---- split-K policy (linear_backward_input here, linear_bwd_input in matmul-q.ts) ----
//
// The LM head's backward dn (rows, C) = dlogits (rows, V)·W (V, C) has a small output (a head
// chunk of rows times the hidden size: ~100 tiles) and a reduction over the whole vocabulary
// (50k..150k). It splits the reduction into S slices (one workgroup per tile and slice, slice = z),
// each writing its partial output to a scratch buffer (S, M, Nc); split_reduce (shaders/add.wgsl)
// then sums the slices in order into dinp, honouring accumulate. As the LoRA kernels (lora.ts).

/**
 * The policy: slices to ask for, given the plain grid's tile count and the reduction length K.
 * 1 when the tiles alone reach kernelPolicy.matmulSplitMinWorkgroups; otherwise enough slices to
 * reach matmulSplitTargetWorkgroups, but no slice shorter than matmulSplitMinSlice.
 */
export function matmulSplitSlices(tiles: number, K: number): number {
  const p = kernelPolicy;
  if (tiles >= p.matmulSplitMinWorkgroups) return 1;
  const want = Math.ceil(p.matmulSplitTargetWorkgroups / tiles);
  return Math.max(1, Math.min(want, Math.floor(K / p.matmulSplitMinSlice)));
}

/** Output tiles of an (M, Nc) result at a tile size (64 or 128, square). */
export function matmulTiles(M: number, Nc: number, tile: 64 | 128): number {
  return Math.ceil(M / tile) * Math.ceil(Nc / tile);
}

export interface MatmulSplitPlan {
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
 * weight) into at most about `slices` slices of kSlice rows, kSlice a multiple of `unit` (the
 * kernel's K step). Slices never straddle parts: each part is cut into ceil(rows / kSlice), so
 * with several parts the total can exceed the slices asked for by parts − 1. Asking for 1 (or a
 * reduction too short to cut) gives the plain kernel.
 */
export function matmulSplitPlan(M: number, Nc: number, parts: readonly number[], tiles: number, unit: number, slices: number): MatmulSplitPlan {
  const K = parts.reduce((a, b) => a + b, 0);
  const S = Math.max(1, Math.min(Math.floor(slices), Math.ceil(K / unit)));
  const plain: MatmulSplitPlan = { tiles, slices: 1, split: false, kSlice: K, partSlices: parts.map(() => 1), workgroups: tiles, partialFloats: 0 };
  if (S <= 1) return plain;
  const kSlice = Math.ceil(Math.ceil(K / S) / unit) * unit;
  const partSlices = parts.map((rows) => Math.max(1, Math.ceil(rows / kSlice)));
  const total = partSlices.reduce((a, b) => a + b, 0);
  if (total <= 1) return plain;
  return { tiles, slices: total, split: true, kSlice, partSlices, workgroups: tiles * total, partialFloats: total * M * Nc };
}

/**
 * Scratch floats that cover the split the policy picks for any M ≤ maxM rows (e.g. every LM-head
 * chunk) of an (M, Nc) result over a reduction of K, whichever tile 'auto' picks. Over one part
 * (a quantized weight split across bindings may want parts − 1 more slices; the call then narrows
 * its split to the scratch it has). 0 when nothing splits.
 */
export function matmulSplitScratchFloats(maxM: number, Nc: number, K: number): number {
  let most = 0;
  const all = { maxComputeWorkgroupStorageSize: Infinity, maxComputeInvocationsPerWorkgroup: Infinity, maxComputeWorkgroupSizeX: Infinity };
  for (const tile of [64, 128] as const) {
    // The slices asked for depend on the row tiles only: take each row-tile count's most rows.
    for (let tm = 1; (tm - 1) * tile < maxM; tm++) {
      const M = Math.min(tm * tile, maxM);
      // 128 only where 'auto' can pick it (a device without it runs the 64 tile, covered too).
      if (tile === 128 && matmulTileFor(M, Nc, all) !== 128) continue;
      const tiles = matmulTiles(M, Nc, tile);
      // The slices asked for: an upper bound on what any plan over one part makes of them.
      const S = matmulSplitSlices(tiles, K);
      if (S > 1) most = Math.max(most, S * M * Nc);
    }
  }
  return most;
}

/** Split-K for the backward input products (linearBackwardInput, linearBackwardInputQ). */
export interface MatmulSplit {
  /**
   * Scratch for the partial results, sized with matmulSplitScratchFloats. Must not alias any
   * operand of the call; its contents are dead between calls. With too little room the split is
   * narrowed to fit (down to none); a forced `slices` that does not fit throws.
   */
  partials: Buf;
  /** Force the number of slices asked for (tests); default: the policy (matmulSplitSlices). */
  slices?: number;
}

function underlying(b: Buf): GPUBuffer {
  return isView(b) ? b.buffer : b;
}

/**
 * The plan a call runs: unsplit without `split`, else the policy's (or forced) slices over the
 * parts, narrowed to the scratch. Throws when the scratch aliases an operand of a split call.
 */
export function resolveMatmulSplit(
  what: string,
  M: number,
  Nc: number,
  parts: readonly number[],
  tiles: number,
  unit: number,
  split: MatmulSplit | undefined,
  operands: Buf[],
): MatmulSplitPlan {
  const K = parts.reduce((a, b) => a + b, 0);
  if (!split) return matmulSplitPlan(M, Nc, parts, tiles, unit, 1);
  const asked = split.slices ?? matmulSplitSlices(tiles, K);
  let plan = matmulSplitPlan(M, Nc, parts, tiles, unit, asked);
  if (!plan.split) return plan;
  const room = Math.floor(split.partials.size / 4);
  if (plan.partialFloats > room) {
    if (split.slices !== undefined) throw new Error(`${what}: ${plan.slices} slices need ${plan.partialFloats} scratch floats, the buffer holds ${room}`);
    // The most slices that fit; parts may add up to parts − 1 over what is asked for.
    for (let s = Math.min(asked - 1, Math.floor(room / (M * Nc))); ; s--) {
      plan = matmulSplitPlan(M, Nc, parts, tiles, unit, s);
      if (!plan.split || plan.partialFloats <= room) break;
    }
    if (!plan.split) return plan;
  }
  const scratch = underlying(split.partials);
  if (operands.some((b) => underlying(b) === scratch)) throw new Error(`${what}: the split-K scratch aliases an operand`);
  return plan;
}

/**
 * C (M,Nc) = A (M,K)·B with B read as the entry point says; one workgroup per output tile (and
 * reduction slice: split, linear_backward_input only).
 * tile 128: the generated 128x128 shader (matmul-tile128.ts), same entry points, bindings and
 * uniforms; its vec4 form when every row it touches is 16-byte aligned (K, Nc multiples of 4).
 */
function gemm(rec: Recorder, entry: string, bindings: Buf[], M: number, Nc: number, K: number, accumulate: boolean, tile: MatmulTile, split?: MatmulSplit): void {
  const size = resolveMatmulTile(tile, M, Nc, rec.gpu.limits, `matmul.${entry}`);
  const tilesM = Math.ceil(M / size);
  const tiles = matmulTiles(M, Nc, size);
  const plan = resolveMatmulSplit(`matmul.${entry}`, M, Nc, [K], tiles, MATMUL_TILE.TILE_K, split, bindings);
  // Split: the GEMM writes each slice's raw partial (no accumulate) into the scratch; the reduce
  // applies accumulate.
  const c = plan.split ? split!.partials : bindings[0];
  const stride = plan.split ? M * Nc : 0;
  const uniforms = [M, Nc, K, tilesM, tiles, accumulate && !plan.split ? 1 : 0, plan.kSlice, stride];
  const [x, y] = grid(tiles, rec.gpu.limits.maxComputeWorkgroupsPerDimension);
  rec.dispatch({
    ...(size === 128 ? { shader: matmul128Shader(K % 4 === 0 && Nc % 4 === 0) } : { shader: matmulShader, overrides: { ...MATMUL_TILE } }),
    entry,
    uniforms,
    bindings: [c, ...bindings.slice(1)],
    workgroups: [x, y, plan.slices],
  });
  if (plan.split) splitReduce(rec, bindings[0], split!.partials, M * Nc, plan.slices, stride, accumulate);
}

/**
 * out (N,Out) = inp (N,In)·weightᵀ (+ bias (Out)), or += when accumulate.
 * tile: 'auto' (matmulTileFor), or force the 64x64 or 128x128 tile (128 throws GpuLimitError
 * where the device's limits do not allow it).
 */
export function linearForward(
  rec: Recorder,
  out: Buf,
  inp: Buf,
  weight: Buf,
  bias: Buf | null,
  N: number,
  In: number,
  Out: number,
  accumulate = false,
  tile: MatmulTile = 'auto',
): void {
  if (bias) gemm(rec, 'linear_forward_bias', [out, inp, weight, bias], N, Out, In, accumulate, tile);
  else gemm(rec, 'linear_forward', [out, inp, weight], N, Out, In, accumulate, tile);
}

/**
 * dinp (N,In) = dout (N,Out)·weight (Out,In), or += when accumulate. No weight gradient (frozen).
 * tile as linearForward. split: split the reduction over Out (split-K, the policy above) through
 * that scratch; without it the plain kernel runs.
 */
export function linearBackwardInput(
  rec: Recorder,
  dinp: Buf,
  dout: Buf,
  weight: Buf,
  N: number,
  In: number,
  Out: number,
  accumulate: boolean,
  tile: MatmulTile = 'auto',
  split?: MatmulSplit,
): void {
  gemm(rec, 'linear_backward_input', [dinp, dout, weight], N, In, Out, accumulate, tile, split);
}

/** Float32Array, or Float64Array for finite-difference tests. */
type Arr = Float32Array | Float64Array;

export function linearForwardCpu(
  out: Arr,
  inp: Arr,
  weight: Arr,
  bias: Arr | null,
  N: number,
  In: number,
  Out: number,
  accumulate = false,
): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      let s = bias ? bias[o] : 0;
      for (let k = 0; k < In; k++) s += inp[n * In + k] * weight[o * In + k];
      out[n * Out + o] = accumulate ? out[n * Out + o] + s : s;
    }
  }
}

export function linearBackwardInputCpu(
  dinp: Arr,
  dout: Arr,
  weight: Arr,
  N: number,
  In: number,
  Out: number,
  accumulate: boolean,
): void {
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < In; k++) {
      let s = 0;
      for (let o = 0; o < Out; o++) s += dout[n * Out + o] * weight[o * In + k];
      dinp[n * In + k] = accumulate ? dinp[n * In + k] + s : s;
    }
  }
}
