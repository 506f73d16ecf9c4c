// Incremental decoding with a KV cache (shaders/decode.wgsl): RoPE at the cache position, the
// cache append, and attention of N new query rows over the cache; GPU dispatches and CPU twins.
// state: u32 [pos, count] read by the kernels when the program runs: rows i < count are the tokens
// at positions pos + i. Cache per layer: kc, vc (Hkv, Tmax, D).
import code from '../../../shaders/decode.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { ROPE_PAIR_PIECE, withWorkgroupReductions } from './reductions';
import { checkRotaryDims } from './rope';

export const decodeShader = withWorkgroupReductions('decode', code, [ROPE_PAIR_PIECE]);

const WG = 64;
/** Most output dims one invocation of decode_attention owns (NMAX in the shader). */
const NMAX = 16;

function elementwise(rec: Recorder, count: number): [number, number] {
  return grid(Math.ceil(count / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension);
}

/**
 * x (N, H*D) rotated in place, row i by the angles of position state[0] + i (cos/sin (Tmax, R/2)):
 * the first R dims of each head (partial rotary), the rest pass through.
 */
export function decodeRope(rec: Recorder, x: Buf, cos: Buf, sin: Buf, state: Buf, N: number, H: number, D: number, Tmax: number, R = D): void {
  checkRotaryDims(D, R);
  rec.dispatch({
    shader: decodeShader,
    entry: 'decode_rope',
    overrides: { WG },
    uniforms: { N, H, D, Tmax, R },
    bindings: [x, cos, sin, state],
    workgroups: elementwise(rec, N * H * (R / 2)),
  });
}

/** kc, vc (Hkv, Tmax, D)[h, state[0] + i] = k, v (N, Hkv*D)[i, h] for rows i < state[1]. */
export function decodeKvStore(rec: Recorder, kc: Buf, vc: Buf, k: Buf, v: Buf, state: Buf, N: number, Hkv: number, D: number, Tmax: number): void {
  rec.dispatch({
    shader: decodeShader,
    entry: 'decode_kv_store',
    overrides: { WG },
    uniforms: { N, Hkv, D, Tmax },
    bindings: [kc, vc, k, v, state],
    workgroups: elementwise(rec, N * Hkv * D),
  });
}

/** How scores are made: scale · q·k, then soft-capped (cap·tanh(s/cap)) when softcap > 0; keys within a sliding window. */
export interface DecodeScores {
  scale: number;
  /** Sliding window W: position t attends to keys t-W+1..t (0 or absent: 0..t). */
  window?: number;
  softcap?: number;
}

/**
 * out (N, Hq*D): row i (position t = state[0] + i) of each head h attends to cache keys 0..t (or
 * the last W of them in a sliding window W) of kv head h / (Hq/Hkv): softmax(scores)·v. Rows
 * i >= state[1] are written as 0.
 */
export function decodeAttention(
  rec: Recorder,
  out: Buf,
  q: Buf,
  kc: Buf,
  vc: Buf,
  state: Buf,
  N: number,
  Hq: number,
  Hkv: number,
  D: number,
  Tmax: number,
  scores: DecodeScores,
): void {
  if (Hkv < 1 || Hq % Hkv !== 0) throw new Error(`decode attention: Hq=${Hq} is not a multiple of Hkv=${Hkv}`);
  const npt = Math.ceil(D / WG);
  if (npt > NMAX) throw new Error(`decode attention: head dim ${D} over ${WG * NMAX}`);
  rec.dispatch({
    shader: decodeShader,
    entry: 'decode_attention',
    overrides: { WG, QD: D, NPT: npt },
    uniforms: { N, Hq, Hkv, D, Tmax, scale: scores.scale, window: scores.window ?? 0, softcap: scores.softcap ?? 0 },
    bindings: [out, q, kc, vc, state],
    workgroups: [Hq, N],
  });
}

/** Output rows per decode_gemv workgroup (GR in the shader). */
const GEMV_ROWS = 8;

/**
 * out (N, Out) = x (N, In) · weightᵀ (+ bias), or += when accumulate: a matrix-vector product per
 * row, for decode steps (N = 1); f32 weights only (quantized ones: linearGemvQ).
 */
export function decodeGemv(rec: Recorder, out: Buf, x: Buf, weight: Buf, bias: Buf | null, N: number, In: number, Out: number, accumulate = false): void {
  const [gx, gy] = grid(Math.ceil(Out / GEMV_ROWS), rec.gpu.limits.maxComputeWorkgroupsPerDimension);
  rec.dispatch({
    shader: decodeShader,
    entry: bias ? 'decode_gemv_bias' : 'decode_gemv',
    overrides: { WG },
    uniforms: { In, Out, accumulate: accumulate ? 1 : 0 },
    bindings: bias ? [out, x, weight, bias] : [out, x, weight],
    workgroups: [gx, gy, N],
  });
}

// ---- CPU twins ----

export function decodeRopeCpu(x: Float32Array, cos: Float32Array, sin: Float32Array, state: Uint32Array, N: number, H: number, D: number, Tmax: number, R = D): void {
  const half = R / 2;
  for (let i = 0; i < N; i++) {
    const t = state[0] + i;
    if (t >= Tmax) continue;
    for (let h = 0; h < H; h++) {
      const base = (i * H + h) * D;
      for (let d = 0; d < half; d++) {
        const c = cos[t * half + d];
        const s = sin[t * half + d];
        const a = x[base + d];
        const b = x[base + d + half];
        x[base + d] = a * c - b * s;
        x[base + d + half] = b * c + a * s;
      }
    }
  }
}

export function decodeKvStoreCpu(
  kc: Float32Array,
  vc: Float32Array,
  k: Float32Array,
  v: Float32Array,
  state: Uint32Array,
  N: number,
  Hkv: number,
  D: number,
  Tmax: number,
): void {
  for (let i = 0; i < Math.min(N, state[1]); i++) {
    const t = state[0] + i;
    if (t >= Tmax) continue;
    for (let h = 0; h < Hkv; h++) {
      for (let d = 0; d < D; d++) {
        kc[(h * Tmax + t) * D + d] = k[(i * Hkv + h) * D + d];
        vc[(h * Tmax + t) * D + d] = v[(i * Hkv + h) * D + d];
      }
    }
  }
}

export function decodeAttentionCpu(
  out: Float32Array,
  q: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  state: Uint32Array,
  N: number,
  Hq: number,
  Hkv: number,
  D: number,
  Tmax: number,
  scores: DecodeScores,
): void {
  const g = Hq / Hkv;
  const { scale } = scores;
  const cap = scores.softcap ?? 0;
  const W = scores.window ?? 0;
  for (let i = 0; i < N; i++) {
    for (let h = 0; h < Hq; h++) {
      const qb = (i * Hq + h) * D;
      if (i >= state[1]) {
        out.fill(0, qb, qb + D);
        continue;
      }
      const hk = Math.floor(h / g);
      const kEnd = Math.min(state[0] + i + 1, Tmax);
      const kBegin = W > 0 ? Math.max(0, state[0] + i + 1 - W) : 0;
      const s = new Float64Array(kEnd);
      let max = -Infinity;
      for (let j = kBegin; j < kEnd; j++) {
        let acc = 0;
        const kb = (hk * Tmax + j) * D;
        for (let d = 0; d < D; d++) acc += q[qb + d] * kc[kb + d];
        s[j] = cap > 0 ? cap * Math.tanh((acc * scale) / cap) : acc * scale;
        max = Math.max(max, s[j]);
      }
      let sum = 0;
      const o = new Float64Array(D);
      for (let j = kBegin; j < kEnd; j++) {
        const p = Math.exp(s[j] - max);
        sum += p;
        const vb = (hk * Tmax + j) * D;
        for (let d = 0; d < D; d++) o[d] += p * vc[vb + d];
      }
      for (let d = 0; d < D; d++) out[qb + d] = o[d] / sum;
    }
  }
}
