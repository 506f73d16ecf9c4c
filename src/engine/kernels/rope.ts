// Rotary position embedding (shaders/rope.wgsl): frequency tables, GPU dispatches and CPU twins.
// transformers' rotate_half convention; each token's angle comes from its position id (i32 per
// token: its position within its example, kernels/positions.ts).
import code from '../../../shaders/rope.wgsl?raw';
import { grid, type Buf, type Gpu, type Recorder } from '../../gpu/gpu';
import type { RopeConfig } from '../model/spec';
import { composeShader, ROPE_PAIR_PIECE } from './reductions';

export const ropeShader = composeShader('rope', code, [ROPE_PAIR_PIECE]);

export class RopeRangeError extends Error {
  override name = 'RopeRangeError';
}
const WG = 256;

/**
 * inv_freq (D/2) in float64, as transformers' modeling_rope_utils computes it for 'default',
 * 'linear' (_compute_linear_scaling_rope_parameters), 'llama3' (_compute_llama3_parameters),
 * 'dynamic' within max_position_embeddings (_compute_dynamic_ntk_parameters with seq_len = that
 * maximum multiplies the base by (factor·1 − (factor − 1))^… = 1: the default frequencies) and
 * 'longrope' for a sequence of seqLen tokens (longropeFactors). D is the rotated dims (rotaryDim:
 * head_dim × partial_rotary_factor), as transformers' `dim`.
 */
export function ropeInvFreq(rope: RopeConfig, D: number, seqLen = 0): Float64Array {
  if (D % 2 !== 0) throw new Error(`rope: head dim ${D} is odd`);
  const half = D / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(rope.theta, (2 * i) / D);
  if (rope.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= rope.factor;
  } else if (rope.type === 'llama3') {
    const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: orig } = rope;
    const lowFreqWavelen = orig / low;
    const highFreqWavelen = orig / high;
    for (let i = 0; i < half; i++) {
      const f = inv[i];
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowFreqWavelen) inv[i] = f / factor;
      else if (wavelen < highFreqWavelen) inv[i] = f;
      else {
        const smooth = (orig / wavelen - low) / (high - low);
        inv[i] = ((1 - smooth) * f) / factor + smooth * f;
      }
    }
  } else if (rope.type === 'yarn') {
    yarnInvFreq(inv, rope, D);
  } else if (rope.type === 'longrope') {
    const ext = longropeFactors(rope, seqLen);
    for (let i = 0; i < half; i++) inv[i] /= ext[i];
  }
  return inv;
}

/**
 * LongRoPE's per-frequency divisors (transformers' _compute_longrope_parameters and its
 * longrope_frequency_update): long_factor when the sequence (max position id + 1) is longer than
 * original_max_position_embeddings, short_factor otherwise; one choice for the whole sequence.
 */
export function longropeFactors(rope: RopeConfig, seqLen: number): number[] {
  if (!rope.longrope) throw new Error('rope: longrope without short_factor / long_factor');
  return longropeIsLong(rope, seqLen) ? rope.longrope.longFactor : rope.longrope.shortFactor;
}

/** Whether a sequence of seqLen tokens (max position id + 1) takes LongRoPE's long factors. */
export function longropeIsLong(rope: RopeConfig, seqLen: number): boolean {
  return rope.type === 'longrope' && seqLen > rope.originalMaxPositionEmbeddings;
}

/**
 * YaRN (transformers' _compute_yarn_parameters): dimension i blends the extrapolated frequency
 * (unchanged) and the interpolated one (/ factor) by a linear ramp over the correction range
 * [low, high] of dimensions that turn beta_fast to beta_slow times over the original context.
 */
function yarnInvFreq(inv: Float64Array, rope: RopeConfig, D: number): void {
  const { betaFast, betaSlow, truncate } = rope.yarn ?? { betaFast: 32, betaSlow: 1, truncate: true };
  const orig = rope.originalMaxPositionEmbeddings;
  const correctionDim = (rotations: number): number => (D * Math.log(orig / (rotations * 2 * Math.PI))) / (2 * Math.log(rope.theta));
  let low = correctionDim(betaFast);
  let high = correctionDim(betaSlow);
  if (truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, D - 1);
  if (low === high) high += 0.001; // the ramp's singularity, as transformers avoids it
  for (let i = 0; i < inv.length; i++) {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolation = 1 - ramp;
    inv[i] = (inv[i] / rope.factor) * (1 - extrapolation) + inv[i] * extrapolation;
  }
}

/**
 * cos and sin tables, each (T, D/2) for D rotated dims: angle[t, i] = t * inv_freq[i], computed in
 * float64, times the attention factor (YaRN's, LongRoPE's; 1 otherwise) as transformers scales
 * them. seqLen: the sequence length LongRoPE chooses its factors by (default T: every table row is
 * a position of one sequence of T tokens).
 */
export function ropeTables(rope: RopeConfig, T: number, D: number, seqLen = T): { cos: Float32Array; sin: Float32Array } {
  if (rope.type === 'dynamic' && T > rope.originalMaxPositionEmbeddings) {
    // transformers would rescale the base for every longer sequence, by its own length.
    throw new RopeRangeError(
      `sequences of ${T} tokens exceed max_position_embeddings (${rope.originalMaxPositionEmbeddings}); ` +
        'dynamic RoPE scaling beyond it is not supported: use at most that many tokens',
    );
  }
  const inv = ropeInvFreq(rope, D, seqLen);
  const scale = rope.attentionFactor ?? 1;
  const half = D / 2;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t * inv[i];
      cos[t * half + i] = Math.cos(a) * scale;
      sin[t * half + i] = Math.sin(a) * scale;
    }
  }
  return { cos, sin };
}

/** The rotated tensor (B*T, H, D), the tables (P, D/2) and the position id (i32 (B*T), each < P) of every token. */
export interface RopeInputs<F, P> {
  x: F;
  cos: F;
  sin: F;
  positions: P;
}

/** Checks the rotated dims R of a head of D (partial rotary: R < D, the rest pass through). */
export function checkRotaryDims(D: number, R: number): void {
  if (R % 2 !== 0 || R < 2 || R > D) throw new Error(`rope: ${R} rotated dims of head dim ${D} (must be even, 2..${D})`);
}

function dispatchRope(rec: Recorder, entry: string, r: RopeInputs<Buf, Buf>, B: number, T: number, H: number, D: number, R: number): void {
  checkRotaryDims(D, R);
  const pairs = B * T * H * (R / 2);
  rec.dispatch({
    shader: ropeShader,
    entry,
    overrides: { WG },
    uniforms: { B, T, H, D, R },
    bindings: [r.x, r.cos, r.sin, r.positions],
    workgroups: grid(Math.ceil(pairs / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/**
 * x (B*T, H, D) rotated in place by the angles of each token's position in cos/sin (P, R/2): the
 * first R dims of each head (R = D unless partial_rotary_factor < 1); the others pass through.
 */
export function ropeForward(rec: Recorder, r: RopeInputs<Buf, Buf>, B: number, T: number, H: number, D: number, R = D): void {
  dispatchRope(rec, 'rope_forward', r, B, T, H, D, R);
}

/** x holds dx (B*T, H, D), in place: the gradient of ropeForward (the transpose rotation; unrotated dims pass through). */
export function ropeBackward(rec: Recorder, r: RopeInputs<Buf, Buf>, B: number, T: number, H: number, D: number, R = D): void {
  dispatchRope(rec, 'rope_backward', r, B, T, H, D, R);
}

type CpuInputs = RopeInputs<Float32Array, Int32Array>;

function rotateCpu(r: CpuInputs, B: number, T: number, H: number, D: number, R: number, sign: number): void {
  const { x, cos, sin, positions } = r;
  const half = R / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const at = positions[b * T + t] * half;
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * D;
        for (let i = 0; i < half; i++) {
          const c = cos[at + i];
          const s = sin[at + i] * sign;
          const a = x[base + i];
          const e = x[base + i + half];
          x[base + i] = a * c - e * s;
          x[base + i + half] = e * c + a * s;
        }
      }
    }
  }
}

export function ropeForwardCpu(r: CpuInputs, B: number, T: number, H: number, D: number, R = D): void {
  rotateCpu(r, B, T, H, D, R, 1);
}

export function ropeBackwardCpu(r: CpuInputs, B: number, T: number, H: number, D: number, R = D): void {
  rotateCpu(r, B, T, H, D, R, -1);
}

/**
 * The cos / sin tables on the GPU for positions 0..T−1 and R rotated dims. LongRoPE chooses its
 * factors per forward pass by that pass's sequence length, max position id + 1 (transformers'
 * longrope_frequency_update; a decoding step's pass is its own, so cached keys keep the rotation
 * they were stored with, as in transformers' generate). `select(seqLen)` writes the other set
 * (both computed once, on the host) into the same buffers when the choice changes, queued in
 * order with the passes around it; no allocation. Every other RoPE type has one set.
 */
export class RopeTablesGpu {
  readonly cos: GPUBuffer;
  readonly sin: GPUBuffer;
  private long = false;
  private readonly sets: { short: { cos: Float32Array; sin: Float32Array }; long: { cos: Float32Array; sin: Float32Array } } | null;

  constructor(
    private readonly gpu: Pick<Gpu, 'upload' | 'write'>,
    private readonly rope: RopeConfig,
    T: number,
    R: number,
    label: string,
  ) {
    const short = ropeTables(rope, T, R, 1);
    // Long factors only matter when a sequence here can be longer than the original context.
    this.sets = longropeIsLong(rope, T) ? { short, long: ropeTables(rope, T, R, T) } : null;
    this.cos = gpu.upload(short.cos, `${label}.cos`);
    this.sin = gpu.upload(short.sin, `${label}.sin`);
  }

  /** The tables for a pass over a sequence of seqLen tokens (max position id + 1). */
  select(seqLen: number): void {
    if (!this.sets) return;
    const long = longropeIsLong(this.rope, seqLen);
    if (long === this.long) return;
    const t = long ? this.sets.long : this.sets.short;
    this.gpu.write(this.cos, t.cos);
    this.gpu.write(this.sin, t.sin);
    this.long = long;
  }
}
