// Frozen linear layers (shaders/matmul.wgsl): out = inp·Wᵀ (+ b) and dinp = dout·W, tiled GEMM on
// the GPU, and their plain-loop CPU twins. W is PyTorch's (Out, In). Also serves the LM head.
// Large outputs use a 128x128 tile instead (generated WGSL, matmul-tile128.ts; same CPU twins).
// The backward input product can split its reduction (split-K, below), as the LM head needs.
import code from '../../../shaders/matmul.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { splitReduce } from './add';
import { composeShader, GEMM_TILE_PIECE, GEMM_PARAMS_PIECE } from './reductions';
import { resolveSplit, splitSlices, type SplitScratch } from './split-k';
import { matmul128Shader, matmulTileFor, resolveMatmulTile, TILE128, type MatmulTile } from './matmul-tile128';

export { matmulTileFor, type MatmulTile } from './matmul-tile128';

export const matmulShader = composeShader('matmul', code, [GEMM_PARAMS_PIECE, GEMM_TILE_PIECE]);

/** Output tile per workgroup (each thread computes 4x4 of it) and the k-slice staged per step. */
export const MATMUL_TILE = { TILE_M: 64, TILE_N: 64, TILE_K: 16 } as const;

// ---- split-K (linear_backward_input here, linear_bwd_input in matmul-q.ts; planner: split-k.ts) ----

/** Slices the 'matmul' split-K policy asks for, given the plain grid's tiles and the reduction K. */
export function matmulSplitSlices(tiles: number, K: number): number {
  return splitSlices('matmul', tiles, K);
}

/** Output tiles of an (M, Nc) result at a tile size (64 or 128, square). */
export function matmulTiles(M: number, Nc: number, tile: 64 | 128): number {
  return Math.ceil(M / tile) * Math.ceil(Nc / tile);
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
export type MatmulSplit = SplitScratch;

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
  const plan = resolveSplit({ what: `matmul.${entry}`, family: 'matmul', M, Nc, parts: [K], tiles, unit: MATMUL_TILE.TILE_K }, split, bindings);
  // Split: the GEMM writes each slice's raw partial (no accumulate) into the scratch; the reduce
  // applies accumulate.
  const c = plan.split ? split!.partials : bindings[0];
  const stride = plan.split ? M * Nc : 0;
  // No dropout (keep_threshold, site unused); the slice is workgroup z.
  const uniforms = { M, Nc, K, tiles_m: tilesM, tiles, accumulate: accumulate && !plan.split ? 1 : 0, alpha: 1, keep_threshold: 0, site: 0, k_slice: plan.kSlice, slices: plan.slices, slice_stride: stride };
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
