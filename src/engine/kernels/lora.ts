// LoRA adapters (shaders/lora.wgsl), as PEFT's lora.Linear: y += scale · (dropout(x)·Aᵀ)·Bᵀ with
// A (r,In), B (Out,r); forward in two GEMMs through the saved h = dropout(x)·Aᵀ (N,r), backward in
// four. The dropout mask is a hash of (seed, site, flat index), so backward recomputes exactly the
// forward's mask and the CPU twins reproduce it bit for bit (loraKeepMaskCpu).
import code from '../../../shaders/lora.wgsl?raw';
import { splitReduce } from './add';
import { composeShader, GEMM_PARAMS_PIECE, GEMM_TILE_PIECE } from './reductions';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { resolveSplit, splitPlan, splitSlices, type SplitPlan, type SplitScratch } from './split-k';

export const loraShader = composeShader('lora', code, [GEMM_PARAMS_PIECE, GEMM_TILE_PIECE]);

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

// ---- split-K policy ----
//
// lora_down, lora_grad_h, lora_grad_a and lora_grad_b are skinny: C has a rank-wide side, so only
// ~N/64 or In/64 tiles exist, while the reduction (In, Out or N) runs to thousands. They split the
// reduction into S slices (one workgroup per tile and slice), each writing a partial tile to a
// scratch buffer (S, M, Nc), and a reduce pass sums the slices in order into C (see lora.wgsl).

/** TILE_K in lora.wgsl: slices are whole multiples of it. */
const TILE_K = 16;

/** The four kernels with a long reduction. */
export type LoraSplitKernel = 'down' | 'gradH' | 'gradA' | 'gradB';

/** C (M,Nc) = A (M,K)·B (K,Nc) as the kernel runs it, with its tile. */
export interface LoraGemmShape {
  M: number;
  Nc: number;
  K: number;
  tileM: number;
  tileN: number;
}

/** Tile extent for a dimension of length r (the LoRA rank): no more than needed, 8..64. */
function rankTile(r: number): number {
  if (r <= 8) return 8;
  if (r <= 16) return 16;
  if (r <= 32) return 32;
  return 64;
}

/** The GEMM a kernel runs for N tokens, rank r and io = In (down, gradA) or Out (gradH, gradB). */
export function loraGemmShape(kernel: LoraSplitKernel, N: number, io: number, r: number): LoraGemmShape {
  switch (kernel) {
    case 'down':
    case 'gradH':
      return { M: N, Nc: r, K: io, tileM: 64, tileN: rankTile(r) };
    case 'gradA':
      return { M: r, Nc: io, K: N, tileM: rankTile(r), tileN: 64 };
    case 'gradB':
      return { M: io, Nc: r, K: N, tileM: 64, tileN: rankTile(r) };
  }
}

export function loraTiles(g: LoraGemmShape): number {
  return Math.ceil(g.M / g.tileM) * Math.ceil(g.Nc / g.tileN);
}

/** Slices the 'lora' split-K policy asks for, given the plain kernel's tiles and the reduction K. */
export function loraSplitSlices(tiles: number, K: number): number {
  return splitSlices('lora', tiles, K);
}

/** A kernel's GEMM shape with the split it runs (split-k.ts's plan over one part). */
export type LoraSplitPlan = LoraGemmShape & SplitPlan;

/** The split of a GEMM into (at most) `slices` whole-TILE_K slices. */
function planFor(g: LoraGemmShape, slices: number): LoraSplitPlan {
  return { ...g, ...splitPlan(g.M, g.Nc, [g.K], loraTiles(g), TILE_K, slices) };
}

/** The split one of the four kernels uses for this shape; `slices` forces the number asked for. */
export function loraSplitPlan(kernel: LoraSplitKernel, N: number, io: number, r: number, slices?: number): LoraSplitPlan {
  const g = loraGemmShape(kernel, N, io, r);
  return planFor(g, slices ?? loraSplitSlices(loraTiles(g), g.K));
}

/**
 * Scratch floats that cover every split the policy picks for up to maxTokens tokens (any batch
 * shape with B·T ≤ maxTokens), rank r and LoRA sites of these (Out, In) shapes. 0 when none splits.
 * An upper bound: it uses the slices asked for, which the plan only ever rounds down.
 */
export function loraSplitScratchFloats(maxTokens: number, r: number, shapes: Iterable<readonly [number, number]>): number {
  let most = 0;
  const seen = new Set<string>();
  for (const [Out, In] of shapes) {
    const key = `${Out},${In}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // gradA, gradB: C is fixed, the slices asked for only grow with the tokens (K).
    for (const [kernel, io] of [['gradA', In], ['gradB', Out]] as const) {
      const g = loraGemmShape(kernel, maxTokens, io, r);
      const S = loraSplitSlices(loraTiles(g), g.K);
      if (S > 1) most = Math.max(most, S * g.M * g.Nc);
    }
    // down, gradH: the slices asked for depend on the token tiles; take each tile count's most tokens.
    for (const [kernel, io] of [['down', In], ['gradH', Out]] as const) {
      const tileM = loraGemmShape(kernel, 1, io, r).tileM;
      for (let tm = 1; (tm - 1) * tileM < maxTokens; tm++) {
        const g = loraGemmShape(kernel, Math.min(tm * tileM, maxTokens), io, r);
        const S = loraSplitSlices(loraTiles(g), g.K);
        if (S > 1) most = Math.max(most, S * g.M * g.Nc);
      }
    }
  }
  return most;
}

// ---- GPU dispatch ----

/** Split-K for lora_down, lora_grad_h, lora_grad_a, lora_grad_b (planner: split-k.ts). */
export type LoraSplit = SplitScratch;

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
  split?: LoraSplit;
}

/** The plan a call runs: the policy's (or forced) split, narrowed to the scratch it was given. */
function splitFor(g: Gemm): SplitPlan {
  const tiles = loraTiles({ M: g.M, Nc: g.Nc, K: g.K, tileM: g.tileM, tileN: g.tileN });
  return resolveSplit({ what: g.entry, family: 'lora', M: g.M, Nc: g.Nc, parts: [g.K], tiles, unit: TILE_K }, g.split, g.bindings);
}

function gemm(rec: Recorder, g: Gemm): void {
  const plan = splitFor(g);
  const split = plan.split;
  const overrides: Record<string, number> = { TILE_M: g.tileM, TILE_N: g.tileN, TILE_K };
  // Split: the GEMM writes raw partial tiles (alpha 1, no accumulate) into the scratch; the reduce
  // applies alpha and accumulate.
  const bindings = split ? [g.split!.partials, ...g.bindings.slice(1)] : [...g.bindings];
  let threshold = 0;
  let site = 0;
  if (g.dropout) {
    threshold = loraKeepThreshold(g.dropout.p);
    site = g.dropout.site >>> 0;
    overrides.DROPOUT = g.dropout.p > 0 ? 1 : 0;
    bindings.push(g.dropout.seed);
  }
  const tilesM = Math.ceil(g.M / g.tileM);
  const sliceStride = split ? g.M * g.Nc : 0;
  const maxPerDim = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
  rec.dispatch({
    shader: loraShader,
    entry: g.entry,
    overrides,
    uniforms: {
      M: g.M,
      Nc: g.Nc,
      K: g.K,
      tiles_m: tilesM,
      tiles: plan.tiles,
      accumulate: split ? 0 : g.accumulate ? 1 : 0,
      alpha: split ? 1 : g.alpha,
      keep_threshold: threshold,
      site,
      k_slice: plan.kSlice,
      slices: plan.slices,
      slice_stride: sliceStride,
    },
    bindings,
    workgroups: grid(plan.workgroups, maxPerDim),
  });
  if (split) splitReduce(rec, g.bindings[0], g.split!.partials, g.M * g.Nc, plan.slices, sliceStride, g.accumulate, g.alpha);
}

/** 1/(1−p): the scale of kept elements. */
function keepScale(d: { p: number }): number {
  loraKeepThreshold(d.p);
  return 1 / (1 - d.p);
}

/** h (N,r) = dropout(inp (N,In))·Aᵀ, A (r,In). Written. Split over In with `split`. */
export function loraDown(rec: Recorder, h: Buf, inp: Buf, A: Buf, N: number, In: number, r: number, dropout: LoraDropout, split?: LoraSplit): void {
  gemm(rec, { entry: 'lora_down', bindings: [h, inp, A], ...loraGemmShape('down', N, In, r), accumulate: false, alpha: keepScale(dropout), dropout, split });
}

/** Token rows up to which loraUp runs lora_up_rows (decode steps) rather than the tiled GEMM. */
export const LORA_UP_ROWS_MAX = 4;

/** out (N,Out) += scale · h (N,r)·Bᵀ, B (Out,r). Always accumulates. */
export function loraUp(rec: Recorder, out: Buf, h: Buf, B: Buf, N: number, Out: number, r: number, scale: number): void {
  if (N <= LORA_UP_ROWS_MAX) {
    // Decoding: an invocation per output element instead of a 64-row tile for one row.
    rec.dispatch({
      shader: loraShader,
      entry: 'lora_up_rows',
      uniforms: { M: N, Nc: Out, K: r, tiles_m: 0, tiles: 0, accumulate: 1, alpha: scale, keep_threshold: 0, site: 0, k_slice: r, slices: 1, slice_stride: 0 },
      bindings: [out, h, B],
      workgroups: grid(Math.ceil((N * Out) / 64), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    });
    return;
  }
  gemm(rec, { entry: 'lora_up', bindings: [out, h, B], M: N, Nc: Out, K: r, tileM: 64, tileN: 64, accumulate: true, alpha: scale });
}


/** dB (Out,r) = (or += when accumulate) scale · doutᵀ (Out,N)·h (N,r). Split over N with `split`. */
export function loraGradB(
  rec: Recorder,
  dB: Buf,
  dout: Buf,
  h: Buf,
  N: number,
  Out: number,
  r: number,
  scale: number,
  accumulate: boolean,
  split?: LoraSplit,
): void {
  gemm(rec, { entry: 'lora_grad_b', bindings: [dB, dout, h], ...loraGemmShape('gradB', N, Out, r), accumulate, alpha: scale, split });
}

/** dh (N,r) = scale · dout (N,Out)·B (Out,r). Written. Split over Out with `split`. */
export function loraGradH(rec: Recorder, dh: Buf, dout: Buf, B: Buf, N: number, Out: number, r: number, scale: number, split?: LoraSplit): void {
  gemm(rec, { entry: 'lora_grad_h', bindings: [dh, dout, B], ...loraGemmShape('gradH', N, Out, r), accumulate: false, alpha: scale, split });
}

/** dA (r,In) = (or += when accumulate) dhᵀ (r,N)·dropout(inp) (N,In), with the forward's mask. Split over N with `split`. */
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
  split?: LoraSplit,
): void {
  gemm(rec, { entry: 'lora_grad_a', bindings: [dA, dh, inp], ...loraGemmShape('gradA', N, In, r), accumulate, alpha: keepScale(dropout), dropout, split });
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

