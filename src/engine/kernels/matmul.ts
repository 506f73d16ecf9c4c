// Frozen linear layers (shaders/matmul.wgsl): out = inp·Wᵀ (+ b) and dinp = dout·W, tiled GEMM on
// the GPU, and their plain-loop CPU twins. W is PyTorch's (Out, In). Also serves the LM head.
// Large outputs use a 128x128 tile instead (generated WGSL, matmul-tile128.ts; same CPU twins).
import code from '../../../shaders/matmul.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { matmul128Shader, resolveMatmulTile, TILE128, type MatmulTile } from './matmul-tile128';

export { matmulTileFor, type MatmulTile } from './matmul-tile128';

export const matmulShader = { name: 'matmul', code };

/** Output tile per workgroup (each thread computes 4x4 of it) and the k-slice staged per step. */
export const MATMUL_TILE = { TILE_M: 64, TILE_N: 64, TILE_K: 16 } as const;

/**
 * C (M,Nc) = A (M,K)·B with B read as the entry point says; one workgroup per output tile.
 * tile 128: the generated 128x128 shader (matmul-tile128.ts), same entry points, bindings and
 * uniforms; its vec4 form when every row it touches is 16-byte aligned (K, Nc multiples of 4).
 */
function gemm(rec: Recorder, entry: string, bindings: Buf[], M: number, Nc: number, K: number, accumulate: boolean, tile: MatmulTile): void {
  if (resolveMatmulTile(tile, M, Nc, rec.gpu.limits, `matmul.${entry}`) === 128) {
    const tilesM = Math.ceil(M / TILE128.TILE);
    const tiles = tilesM * Math.ceil(Nc / TILE128.TILE);
    rec.dispatch({
      shader: matmul128Shader(K % 4 === 0 && Nc % 4 === 0),
      entry,
      uniforms: [M, Nc, K, tilesM, tiles, accumulate ? 1 : 0],
      bindings,
      workgroups: grid(tiles, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    });
    return;
  }
  const tilesM = Math.ceil(M / MATMUL_TILE.TILE_M);
  const tiles = tilesM * Math.ceil(Nc / MATMUL_TILE.TILE_N);
  rec.dispatch({
    shader: matmulShader,
    entry,
    overrides: { ...MATMUL_TILE },
    uniforms: [M, Nc, K, tilesM, tiles, accumulate ? 1 : 0],
    bindings,
    workgroups: grid(tiles, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
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

/** dinp (N,In) = dout (N,Out)·weight (Out,In), or += when accumulate. No weight gradient (frozen). tile as linearForward. */
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
): void {
  gemm(rec, 'linear_backward_input', [dinp, dout, weight], N, In, Out, accumulate, tile);
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
