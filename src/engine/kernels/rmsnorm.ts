// RMSNorm (shaders/rmsnorm.wgsl), transformers' LlamaRMSNorm: y = w ⊙ x · rsqrt(mean(x²) + eps),
// computed in f32; backward gives the input gradient only (the norm weight is frozen). Serves the
// hidden-size norms and Qwen3's per-head q_norm/k_norm (N = tokens·heads, C = head_dim).
import code from '../../../shaders/rmsnorm.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { withWorkgroupReductions } from './reductions';

export const rmsnormShader = withWorkgroupReductions('rmsnorm', code);

/** Threads per row: enough to cover small rows without idle threads, at most 256. */
export function rmsnormWorkgroupSize(C: number): number {
  if (C <= 32) return 32;
  if (C <= 64) return 64;
  if (C <= 128) return 128;
  return 256;
}

/** out (N,C) = weight ⊙ inp · rstd, rstd (N) = rsqrt(mean(inp²) + eps): both written. */
export function rmsnormForward(rec: Recorder, out: Buf, rstd: Buf, inp: Buf, weight: Buf, N: number, C: number, eps: number): void {
  rec.dispatch({
    shader: rmsnormShader,
    entry: 'rmsnorm_forward',
    overrides: { WG: rmsnormWorkgroupSize(C) },
    uniforms: { N, C, eps, accumulate: 0 },
    bindings: [out, rstd, inp, weight],
    workgroups: grid(N, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** dinp (N,C) = (or += when accumulate) the input gradient, from dout, inp, weight and the saved rstd. */
export function rmsnormBackward(
  rec: Recorder,
  dinp: Buf,
  dout: Buf,
  inp: Buf,
  weight: Buf,
  rstd: Buf,
  N: number,
  C: number,
  accumulate: boolean,
): void {
  rec.dispatch({
    shader: rmsnormShader,
    entry: 'rmsnorm_backward',
    overrides: { WG: rmsnormWorkgroupSize(C) },
    uniforms: { N, C, eps: 0, accumulate: accumulate ? 1 : 0 },
    bindings: [dinp, dout, inp, weight, rstd],
    workgroups: grid(N, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Float32Array, or Float64Array for finite-difference tests. */
type Arr = Float32Array | Float64Array;

export function rmsnormForwardCpu(out: Arr, rstd: Arr, inp: Arr, weight: Arr, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const base = n * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += inp[base + c] * inp[base + c];
    rstd[n] = 1 / Math.sqrt(ss / C + eps);
    const r = rstd[n];
    for (let c = 0; c < C; c++) out[base + c] = weight[c] * (inp[base + c] * r);
  }
}

export function rmsnormBackwardCpu(
  dinp: Arr,
  dout: Arr,
  inp: Arr,
  weight: Arr,
  rstd: Arr,
  N: number,
  C: number,
  accumulate: boolean,
): void {
  for (let n = 0; n < N; n++) {
    const base = n * C;
    let dot = 0;
    for (let c = 0; c < C; c++) dot += weight[c] * dout[base + c] * inp[base + c];
    const r = rstd[n];
    const coef = (r * r * r * dot) / C;
    for (let c = 0; c < C; c++) {
      const i = base + c;
      const dx = r * weight[c] * dout[i] - inp[i] * coef;
      dinp[i] = accumulate ? dinp[i] + dx : dx;
    }
  }
}
