// Causal grouped-query attention, flash-style (shaders/attention.wgsl): GPU dispatches and CPU twins.
// q, out: (B*T, Hq*D); k, v: (B*T, Hkv*D) (token-major, heads contiguous per token); lse: (B, Hq, T);
// mask: u32 (B*T), 1 for a token, 0 for padding; positions: i32 (B*T), each token's position within
// its example (packed rows hold several; 0..T-1 when a row is one example). Key j is visible to
// query i iff i - positions[i] <= j <= i and mask[b*T + j] == 1 (and, with a sliding window W,
// j > i - W); a query row with no visible key gets out = 0 and lse = 0. Positions restart at 0 or
// count up by 1 along a row (Batch.positions). Scores may be soft-capped (cap·tanh(s/cap)).
import code from '../../../shaders/attention.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const attentionShader = { name: 'attention', code };

/** Most dims one invocation owns in registers (NMAX in the shader). */
const NMAX = 32;
/** Most score pairs one invocation computes per tile (NSMAX in the shader). */
const NSMAX = 8;
const PREP_WG = 64;

/** Tile sizes of the three tiled kernels; `wg` invocations per workgroup in each. */
export interface AttentionTiles {
  wg: number;
  /** BQ query rows per workgroup (wg / BQ invocations per row), key tiles of BK rows. */
  forward: { BQ: number; BK: number };
  /** As the forward. */
  dq: { BQ: number; BK: number };
  /** BK key rows per workgroup (wg / BK invocations per row), query tiles of BQ rows. */
  dkdv: { BQ: number; BK: number };
}

export interface AttentionLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
}

/** Workgroup memory (bytes) each kernel declares for a tile shape (mirrors the WGSL arrays). */
export const attentionSharedBytes = {
  forward: (BQ: number, BK: number, D: number): number => 4 * ((BQ + BK) * (D + 1) + BQ * BK + BK + BQ + 1),
  dq: (BQ: number, BK: number, D: number): number => 4 * (2 * (BQ + BK) * (D + 1) + BQ * BK + BK + 3 * BQ + 1),
  dkdv: (BQ: number, BK: number, D: number): number => 4 * (2 * (BQ + BK) * (D + 1) + 2 * BQ * BK + BK + 3 * BQ + 1),
};

// Preferred shapes first: [rows owned by a workgroup, rows of the streamed tile].
const FORWARD_CANDIDATES = [[16, 64], [16, 32], [16, 16], [8, 16], [8, 8], [4, 8], [4, 4], [2, 4], [2, 2], [1, 2], [1, 1]];
const DQ_CANDIDATES = [[16, 32], [16, 16], [8, 16], [8, 8], [4, 8], [4, 4], [2, 4], [2, 2], [1, 2], [1, 1]];
const DKDV_CANDIDATES = [[16, 32], [16, 16], [16, 8], [8, 8], [8, 4], [4, 4], [2, 4], [2, 2], [1, 2], [1, 1]];

/** The largest tiles whose workgroup memory fits the device, for head dim D. */
export function attentionTiles(D: number, limits: AttentionLimits): AttentionTiles {
  let wg = 1;
  while (wg * 2 <= Math.min(128, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX)) wg *= 2;
  const budget = limits.maxComputeWorkgroupStorageSize;
  const pick = (kind: 'forward' | 'dq' | 'dkdv', candidates: number[][]): { BQ: number; BK: number } => {
    for (const [own, other] of candidates) {
      const [BQ, BK] = kind === 'dkdv' ? [other, own] : [own, other];
      if (own > wg || BK > wg || Math.ceil(D / (wg / own)) > NMAX || Math.ceil((BQ * BK) / wg) > NSMAX) continue;
      if (attentionSharedBytes[kind](BQ, BK, D) <= budget) return { BQ, BK };
    }
    throw new Error(`attention: head dim ${D} does not fit ${budget} bytes of workgroup memory`);
  };
  return { wg, forward: pick('forward', FORWARD_CANDIDATES), dq: pick('dq', DQ_CANDIDATES), dkdv: pick('dkdv', DKDV_CANDIDATES) };
}

function checkShape(Hq: number, Hkv: number, D: number): void {
  if (Hkv < 1 || Hq % Hkv !== 0) throw new Error(`attention: Hq=${Hq} is not a multiple of Hkv=${Hkv}`);
  // The backward's scratch in dq holds lse, Di and the row's example start in a row's first 3 dims.
  if (D < 3) throw new Error(`attention: head dim ${D} < 3`);
}

function tileOverrides(wg: number, BQ: number, BK: number, owner: number, D: number): Record<string, number> {
  if (wg % owner !== 0 || wg % BK !== 0) throw new Error(`attention: workgroup ${wg} is not a multiple of ${owner} and ${BK} rows`);
  const TPR = wg / owner;
  const NPT = Math.ceil(D / TPR);
  const NS = Math.ceil((BQ * BK) / wg);
  if (NPT > NMAX) throw new Error(`attention: ${NPT} dims per invocation (D=${D}, ${TPR} per row) over ${NMAX}`);
  if (NS > NSMAX) throw new Error(`attention: ${NS} score pairs per invocation (${BQ}x${BK} tile) over ${NSMAX}`);
  return { WG: wg, BQ, BK, TPR, KS: D + 1, NPT, NS };
}

/** One attention call's shape: B rows of T tokens, Hq query heads over Hkv kv heads of D dims. */
export interface AttentionShape {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  /** Multiplies q·k (1/sqrt(D), or Gemma's query_pre_attn_scalar^-0.5). */
  scale: number;
  /** Sliding window W: query i sees keys i-W+1..i (0 or absent: the whole example). */
  window?: number;
  /** cap·tanh(s/cap) on the scaled scores (Gemma 2's attn_logit_softcapping; 0 or absent: none). */
  softcap?: number;
}

/** The shader's uniforms of a shape. */
function attentionUniforms(shape: AttentionShape): Record<string, number> {
  const { B, T, Hq, Hkv, D, scale } = shape;
  return { B, T, Hq, Hkv, D, scale, window: shape.window ?? 0, softcap: shape.softcap ?? 0 };
}

/** The forward's tensors: inputs q, k, v, mask, positions; outputs out, lse (GPU buffers or CPU arrays). */
export interface AttentionTensors<F, M, P = M> {
  out: F;
  lse: F;
  q: F;
  k: F;
  v: F;
  mask: M;
  positions: P;
}

/** The backward's: dq, dk, dv written from dout. */
export interface AttentionGrads<F> {
  dq: F;
  dk: F;
  dv: F;
  dout: F;
}

/** attentionForward with explicit tiles (tests use small ones to cover the small-memory path). */
export function attentionForwardTiled(rec: Recorder, tiles: AttentionTiles, t: AttentionTensors<Buf, Buf>, shape: AttentionShape): void {
  const { B, T, Hq, D } = shape;
  checkShape(Hq, shape.Hkv, D);
  const { BQ, BK } = tiles.forward;
  rec.dispatch({
    shader: attentionShader,
    entry: 'attn_forward',
    overrides: tileOverrides(tiles.wg, BQ, BK, BQ, D),
    uniforms: attentionUniforms(shape),
    bindings: [t.out, t.lse, t.q, t.k, t.v, t.mask, t.positions],
    workgroups: [Math.ceil(T / BQ), Hq, B],
  });
}

/**
 * out (B*T, Hq*D) = causal softmax(scale * q k^T) v per head (GQA: head h reads kv head
 * h / (Hq/Hkv)) within each token's example; lse (B, Hq, T) = logsumexp of each row's scaled
 * scores, saved for backward.
 */
export function attentionForward(rec: Recorder, t: AttentionTensors<Buf, Buf>, shape: AttentionShape): void {
  attentionForwardTiled(rec, attentionTiles(shape.D, rec.gpu.limits), t, shape);
}

/** attentionBackward with explicit tiles. */
export function attentionBackwardTiled(
  rec: Recorder,
  tiles: AttentionTiles,
  g: AttentionGrads<Buf>,
  t: AttentionTensors<Buf, Buf>,
  shape: AttentionShape,
): void {
  const { B, T, Hq, Hkv, D } = shape;
  checkShape(Hq, Hkv, D);
  const uniforms = attentionUniforms(shape);
  const maxDim = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
  // dq doubles as scratch: (lse, Di) per (token, query head) in its first two dims.
  rec.dispatch({
    shader: attentionShader,
    entry: 'attn_backward_prep',
    overrides: { WG: PREP_WG },
    uniforms,
    bindings: [g.dq, null, null, g.dout, t.out, t.lse, null, null, null, null, t.positions],
    workgroups: grid(Math.ceil((B * T * Hq) / PREP_WG), maxDim),
  });
  const kv = tiles.dkdv;
  rec.dispatch({
    shader: attentionShader,
    entry: 'attn_backward_dkdv',
    overrides: tileOverrides(tiles.wg, kv.BQ, kv.BK, kv.BK, D),
    uniforms,
    bindings: [g.dq, g.dk, g.dv, g.dout, null, null, t.q, t.k, t.v, t.mask],
    workgroups: [Math.ceil(T / kv.BK), Hkv, B],
  });
  const qt = tiles.dq;
  rec.dispatch({
    shader: attentionShader,
    entry: 'attn_backward_dq',
    overrides: tileOverrides(tiles.wg, qt.BQ, qt.BK, qt.BQ, D),
    uniforms,
    bindings: [g.dq, null, null, g.dout, null, null, t.q, t.k, t.v, t.mask],
    workgroups: [Math.ceil(T / qt.BQ), Hq, B],
  });
}

/**
 * Gradients of attentionForward: dq (B*T, Hq*D), dk, dv (B*T, Hkv*D) overwritten (dk, dv summed
 * over the query heads of each group), from dout, the forward's out and lse, and its inputs.
 */
export function attentionBackward(rec: Recorder, g: AttentionGrads<Buf>, t: AttentionTensors<Buf, Buf>, shape: AttentionShape): void {
  attentionBackwardTiled(rec, attentionTiles(shape.D, rec.gpu.limits), g, t, shape);
}

type CpuTensors = AttentionTensors<Float32Array, Uint32Array, Int32Array>;

/** The first key query i (token b*T + i) may see: the first token of its example, or i - W + 1 in a window W. */
function firstKey(positions: Int32Array, b: number, T: number, i: number, window = 0): number {
  const back = Math.min(Math.max(positions[b * T + i], 0), i);
  return i - (window > 0 ? Math.min(back, window - 1) : back);
}

/** A scaled score soft-capped as the shader does (cap·tanh(s/cap); s without a cap). */
function capScore(s: number, cap: number): number {
  return cap > 0 ? cap * Math.tanh(s / cap) : s;
}

export function attentionForwardCpu(t: CpuTensors, shape: AttentionShape): void {
  const { out, lse, q, k, v, mask, positions } = t;
  const { B, T, Hq, Hkv, D, scale } = shape;
  const cap = shape.softcap ?? 0;
  const g = Hq / Hkv;
  const s = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / g);
      for (let i = 0; i < T; i++) {
        const qb = (b * T + i) * Hq * D + h * D;
        const j0 = firstKey(positions, b, T, i, shape.window);
        let max = -Infinity;
        for (let j = j0; j <= i; j++) {
          if (mask[b * T + j] !== 1) continue;
          const kb = (b * T + j) * Hkv * D + hk * D;
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q[qb + d] * k[kb + d];
          s[j] = capScore(acc * scale, cap);
          max = Math.max(max, s[j]);
        }
        if (max === -Infinity) {
          out.fill(0, qb, qb + D);
          lse[(b * Hq + h) * T + i] = 0;
          continue;
        }
        let sum = 0;
        const o = new Float64Array(D);
        for (let j = j0; j <= i; j++) {
          if (mask[b * T + j] !== 1) continue;
          const pj = Math.exp(s[j] - max);
          sum += pj;
          const vb = (b * T + j) * Hkv * D + hk * D;
          for (let d = 0; d < D; d++) o[d] += pj * v[vb + d];
        }
        for (let d = 0; d < D; d++) out[qb + d] = o[d] / sum;
        lse[(b * Hq + h) * T + i] = max + Math.log(sum);
      }
    }
  }
}

export function attentionBackwardCpu(grads: AttentionGrads<Float32Array>, t: CpuTensors, shape: AttentionShape): void {
  const { dq, dk, dv, dout } = grads;
  const { out, lse, q, k, v, mask, positions } = t;
  const { B, T, Hq, Hkv, D, scale } = shape;
  const cap = shape.softcap ?? 0;
  const g = Hq / Hkv;
  const gq = new Float64Array(B * T * Hq * D);
  const gk = new Float64Array(B * T * Hkv * D);
  const gv = new Float64Array(B * T * Hkv * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / g);
      for (let i = 0; i < T; i++) {
        const qb = (b * T + i) * Hq * D + h * D;
        let di = 0;
        for (let d = 0; d < D; d++) di += dout[qb + d] * out[qb + d];
        const l = lse[(b * Hq + h) * T + i];
        for (let j = firstKey(positions, b, T, i, shape.window); j <= i; j++) {
          if (mask[b * T + j] !== 1) continue;
          const kb = (b * T + j) * Hkv * D + hk * D;
          let qk = 0;
          let dov = 0;
          for (let d = 0; d < D; d++) {
            qk += q[qb + d] * k[kb + d];
            dov += dout[qb + d] * v[kb + d];
          }
          const sc = capScore(qk * scale, cap);
          const pij = Math.exp(sc - l);
          const ds = pij * (dov - di) * scale * (cap > 0 ? 1 - (sc / cap) ** 2 : 1);
          for (let d = 0; d < D; d++) {
            gv[kb + d] += pij * dout[qb + d];
            gk[kb + d] += ds * q[qb + d];
            gq[qb + d] += ds * k[kb + d];
          }
        }
      }
    }
  }
  dq.set(gq);
  dk.set(gk);
  dv.set(gv);
}
