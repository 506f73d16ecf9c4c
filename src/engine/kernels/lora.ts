// LoRA adapters (shaders/lora.wgsl), as PEFT's lora.Linear: y += scale · (dropout(x)·Aᵀ)·Bᵀ with
// A (r,In), B (Out,r); forward in two GEMMs through the saved h = dropout(x)·Aᵀ (N,r), backward in
// four. The dropout mask is a hash of (seed, site, flat index), so backward recomputes exactly the
// forward's mask and the CPU twins reproduce it bit for bit (loraKeepMaskCpu).
import code from '../../../shaders/lora.wgsl?raw';
import { f32, grid, type Buf, type Recorder } from '../../gpu/gpu';

export const loraShader = { name: 'lora', code };

export interface LoraDropout {
  /** Dropout probability in [0, 1); 0 disables the mask entirely. */
  p: number;
  /** u32 storage buffer; element 0 is the step's seed, written by the trainer each step. */
  seed: Buf;
  /** Distinct per (layer, projection), so every site draws its own mask. */
  site: number;
}

/** LoraDropout for the CPU twins: seed[0] is the step's seed. */
export interface LoraDropoutCpu {
  p: number;
  seed: Uint32Array;
  site: number;
}

// ---- dropout mask (mirrors lora.wgsl exactly) ----

/** PCG-RXS-M-XS 32-bit hash, as pcg() in lora.wgsl. */
export function pcgHash(v: number): number {
  const s = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The per-(step, site) hash key. */
export function loraDropoutKey(seed: number, site: number): number {
  return pcgHash((seed ^ pcgHash(site >>> 0)) >>> 0);
}

/** Keep iff (hash >> 8) >= ceil(p·2^24): the hash as a 24-bit float in [0,1) is >= p. */
export function loraKeepThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`LoRA dropout p must be in [0, 1), got ${p}`);
  return Math.ceil(p * 16777216);
}

function keepWithKey(key: number, i: number, threshold: number): boolean {
  return pcgHash((pcgHash((i ^ key) >>> 0) + key) >>> 0) >>> 8 >= threshold;
}

/** Whether flat element i of the (N,In) input survives dropout at (seed, site) with probability p. */
export function loraKeepMaskCpu(seed: number, site: number, i: number, p: number): boolean {
  if (p === 0) return true;
  return keepWithKey(loraDropoutKey(seed >>> 0, site), i >>> 0, loraKeepThreshold(p));
}

// ---- GPU dispatch ----

/** Tile extent for a dimension of length r (the LoRA rank): no more than needed, 8..64. */
function rankTile(r: number): number {
  if (r <= 8) return 8;
  if (r <= 16) return 16;
  if (r <= 32) return 32;
  return 64;
}

interface Gemm {
  entry: string;
  bindings: Buf[];
  M: number;
  Nc: number;
  K: number;
  tileM: number;
  tileN: number;
  accumulate: boolean;
  alpha: number;
  dropout?: LoraDropout;
}

function gemm(rec: Recorder, g: Gemm): void {
  const tilesM = Math.ceil(g.M / g.tileM);
  const tiles = tilesM * Math.ceil(g.Nc / g.tileN);
  const overrides: Record<string, number> = { TILE_M: g.tileM, TILE_N: g.tileN, TILE_K: 16 };
  const bindings = [...g.bindings];
  let threshold = 0;
  let site = 0;
  if (g.dropout) {
    threshold = loraKeepThreshold(g.dropout.p);
    site = g.dropout.site >>> 0;
    overrides.DROPOUT = g.dropout.p > 0 ? 1 : 0;
    bindings.push(g.dropout.seed);
  }
  rec.dispatch({
    shader: loraShader,
    entry: g.entry,
    overrides,
    uniforms: [g.M, g.Nc, g.K, tilesM, tiles, g.accumulate ? 1 : 0, f32(g.alpha), threshold, site],
    bindings,
    workgroups: grid(tiles, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** 1/(1−p): the scale of kept elements. */
function keepScale(d: { p: number }): number {
  loraKeepThreshold(d.p);
  return 1 / (1 - d.p);
}

/** h (N,r) = dropout(inp (N,In))·Aᵀ, A (r,In). Written. */
export function loraDown(rec: Recorder, h: Buf, inp: Buf, A: Buf, N: number, In: number, r: number, dropout: LoraDropout): void {
  gemm(rec, { entry: 'lora_down', bindings: [h, inp, A], M: N, Nc: r, K: In, tileM: 64, tileN: rankTile(r), accumulate: false, alpha: keepScale(dropout), dropout });
}

/** out (N,Out) += scale · h (N,r)·Bᵀ, B (Out,r). Always accumulates. */
export function loraUp(rec: Recorder, out: Buf, h: Buf, B: Buf, N: number, Out: number, r: number, scale: number): void {
  gemm(rec, { entry: 'lora_up', bindings: [out, h, B], M: N, Nc: Out, K: r, tileM: 64, tileN: 64, accumulate: true, alpha: scale });
}

/** dB (Out,r) = (or += when accumulate) scale · doutᵀ (Out,N)·h (N,r). */
export function loraGradB(rec: Recorder, dB: Buf, dout: Buf, h: Buf, N: number, Out: number, r: number, scale: number, accumulate: boolean): void {
  gemm(rec, { entry: 'lora_grad_b', bindings: [dB, dout, h], M: Out, Nc: r, K: N, tileM: 64, tileN: rankTile(r), accumulate, alpha: scale });
}

/** dh (N,r) = scale · dout (N,Out)·B (Out,r). Written. */
export function loraGradH(rec: Recorder, dh: Buf, dout: Buf, B: Buf, N: number, Out: number, r: number, scale: number): void {
  gemm(rec, { entry: 'lora_grad_h', bindings: [dh, dout, B], M: N, Nc: r, K: Out, tileM: 64, tileN: rankTile(r), accumulate: false, alpha: scale });
}

/** dA (r,In) = (or += when accumulate) dhᵀ (r,N)·dropout(inp) (N,In), with the forward's mask. */
export function loraGradA(
  rec: Recorder,
  dA: Buf,
  dh: Buf,
  inp: Buf,
  N: number,
  In: number,
  r: number,
  dropout: LoraDropout,
  accumulate: boolean,
): void {
  gemm(rec, { entry: 'lora_grad_a', bindings: [dA, dh, inp], M: r, Nc: In, K: N, tileM: rankTile(r), tileN: 64, accumulate, alpha: keepScale(dropout), dropout });
}

/** dinp (N,In) += mask ⊙ (dh (N,r)·A (r,In)) / (1−p). Always accumulates. */
export function loraGradInput(rec: Recorder, dinp: Buf, dh: Buf, A: Buf, N: number, In: number, r: number, dropout: LoraDropout): void {
  gemm(rec, { entry: 'lora_grad_input', bindings: [dinp, dh, A], M: N, Nc: In, K: r, tileM: 64, tileN: 64, accumulate: true, alpha: keepScale(dropout), dropout });
}

// ---- CPU twins ----

/** Float32Array, or Float64Array for finite-difference tests. */
type Arr = Float32Array | Float64Array;

/** Row n of dropout(inp) (N,In): dropped elements 0, kept ones scaled by 1/(1−p). */
function droppedRow(inp: Arr, n: number, In: number, d: LoraDropoutCpu): Float64Array {
  const row = new Float64Array(In);
  const threshold = loraKeepThreshold(d.p);
  const scale = 1 / (1 - d.p);
  const key = loraDropoutKey(d.seed[0] >>> 0, d.site);
  for (let k = 0; k < In; k++) {
    const i = n * In + k;
    row[k] = d.p === 0 ? inp[i] : keepWithKey(key, i, threshold) ? inp[i] * scale : 0;
  }
  return row;
}

export function loraDownCpu(h: Arr, inp: Arr, A: Arr, N: number, In: number, r: number, dropout: LoraDropoutCpu): void {
  for (let n = 0; n < N; n++) {
    const x = droppedRow(inp, n, In, dropout);
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < In; k++) s += x[k] * A[j * In + k];
      h[n * r + j] = s;
    }
  }
}

export function loraUpCpu(out: Arr, h: Arr, B: Arr, N: number, Out: number, r: number, scale: number): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += h[n * r + j] * B[o * r + j];
      out[n * Out + o] += scale * s;
    }
  }
}

export function loraGradBCpu(dB: Arr, dout: Arr, h: Arr, N: number, Out: number, r: number, scale: number, accumulate: boolean): void {
  for (let o = 0; o < Out; o++) {
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dout[n * Out + o] * h[n * r + j];
      dB[o * r + j] = (accumulate ? dB[o * r + j] : 0) + scale * s;
    }
  }
}

export function loraGradHCpu(dh: Arr, dout: Arr, B: Arr, N: number, Out: number, r: number, scale: number): void {
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let o = 0; o < Out; o++) s += dout[n * Out + o] * B[o * r + j];
      dh[n * r + j] = scale * s;
    }
  }
}

export function loraGradACpu(
  dA: Arr,
  dh: Arr,
  inp: Arr,
  N: number,
  In: number,
  r: number,
  dropout: LoraDropoutCpu,
  accumulate: boolean,
): void {
  const sum = new Float64Array(r * In);
  for (let n = 0; n < N; n++) {
    const x = droppedRow(inp, n, In, dropout);
    for (let j = 0; j < r; j++) {
      const g = dh[n * r + j];
      for (let k = 0; k < In; k++) sum[j * In + k] += g * x[k];
    }
  }
  for (let i = 0; i < r * In; i++) dA[i] = (accumulate ? dA[i] : 0) + sum[i];
}

export function loraGradInputCpu(dinp: Arr, dh: Arr, A: Arr, N: number, In: number, r: number, dropout: LoraDropoutCpu): void {
  const threshold = loraKeepThreshold(dropout.p);
  const scale = 1 / (1 - dropout.p);
  const key = loraDropoutKey(dropout.seed[0] >>> 0, dropout.site);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < In; k++) {
      const i = n * In + k;
      if (dropout.p > 0 && !keepWithKey(key, i, threshold)) continue;
      let s = 0;
      for (let j = 0; j < r; j++) s += dh[n * r + j] * A[j * In + k];
      dinp[i] += scale * s;
    }
  }
}
