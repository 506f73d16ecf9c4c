// Divergence guard of a training step (shaders/guard.wgsl around adamw_step): GPU dispatches,
// the CPU twin, and the reading of the step's result words. A step whose loss or gradient norm is
// non-finite or beyond a bound, or whose update would make a parameter (or a moment) non-finite
// or a parameter larger than a bound, is flagged and NOT applied: params, m and v stay as they
// were, and the step's single read-back returns the flags.
import code from '../../../shaders/guard.wgsl?raw';
import { type Buf, type Recorder, type Shader } from '../../gpu/gpu';
import { adamwStep, adamwStepCpu, type AdamWHyper } from './optimizer';

export const guardShader: Shader = { name: 'guard', code };

/** Bits of the flags word (result word 0); the same constants as shaders/guard.wgsl. */
export const GUARD = {
  lossNonFinite: 1,
  gradNonFinite: 2,
  lossOverBound: 4,
  gradOverBound: 8,
  updateNonFinite: 16,
  paramOverBound: 32,
} as const;

export interface GuardBounds {
  /** The step's mean loss beyond this is divergence. */
  loss: number;
  /** The global gradient norm (before clipping) beyond this is divergence. */
  gradNorm: number;
  /** A LoRA parameter's magnitude beyond this after the update is divergence. */
  param: number;
}

/**
 * Bounds no healthy run reaches. A LoRA parameter starts within ±1/sqrt(in_features) (A) or at 0
 * (B) and stays of order 1; the loss of a model that guesses uniformly is ln(vocab), and one that
 * is confidently wrong everywhere is far beyond 4 ln(vocab). The case they exist for: a learning
 * rate so large that one step throws the parameters to ±lr, after which the logits saturate, the
 * loss sits at exactly ln(vocab) and the gradient is 0, so that neither the loss nor the
 * gradient ever turns non-finite.
 */
export function defaultGuardBounds(vocabSize: number): GuardBounds {
  return { loss: Math.max(50, 4 * Math.log(vocabSize)), gradNorm: 1e6, param: 1e4 };
}

/** Words of the result buffer for `slots` micro-batch losses. */
export function guardWords(slots: number): number {
  return 3 + slots;
}
/** Word index of micro-batch i's loss in the result buffer. */
export const lossWord = (i: number): number => 3 + i;
/** Word index of the gradient norm² (f32). */
export const NORM_WORD = 2;

/** The step's health, read from the result words. */
export interface StepHealth {
  flags: number;
  /** Largest |p| of the proposed update (Infinity/NaN when something was not finite). */
  maxParam: number;
  gradNormSq: number;
  /** The slots' losses summed (the step's mean loss). */
  loss: number;
}

export function readHealth(words: ArrayBuffer, slots: number): StepHealth {
  const u = new Uint32Array(words, 0, guardWords(slots));
  const f = new Float32Array(words, 0, guardWords(slots));
  let loss = 0;
  for (let i = 0; i < slots; i++) loss += f[lossWord(i)];
  return { flags: u[0], maxParam: f[1], gradNormSq: f[NORM_WORD], loss };
}

function guardUniforms(slots: number, b: GuardBounds): Record<string, number> {
  return { slots, loss_bound: b.loss, grad_norm_bound: b.gradNorm, param_bound: b.param };
}

/**
 * Records guard_pre, the AdamW probe, guard_post and the guarded AdamW update. `result` holds
 * guardWords(slots) u32; the losses are in its loss words and `normSq` holds the gradient norm²
 * before this runs.
 */
export function guardedAdamw(
  rec: Recorder,
  state: { params: Buf; grads: Buf; m: Buf; v: Buf; normSq: Buf; stepParams: Buf; result: Buf },
  n: number,
  slots: number,
  hp: AdamWHyper,
  bounds: GuardBounds,
): void {
  const uniforms = guardUniforms(slots, bounds);
  const { params, grads, m, v, normSq, stepParams, result } = state;
  rec.dispatch({ shader: guardShader, entry: 'guard_pre', uniforms, bindings: [result, normSq], workgroups: [1] });
  adamwStep(rec, params, grads, m, v, normSq, stepParams, n, hp, result, true);
  rec.dispatch({ shader: guardShader, entry: 'guard_post', uniforms, bindings: [result, null], workgroups: [1] });
  adamwStep(rec, params, grads, m, v, normSq, stepParams, n, hp, result, false);
}

const bitsOf = (x: number): number => {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0];
};
const EXP = 0x7f800000;
const nonFiniteBits = (bits: number): boolean => (bits & EXP) >>> 0 === EXP;

/**
 * CPU twin of guardedAdamw: the same flags from the same words, and the update applied only when
 * no flag is set. result: guardWords(slots) u32 with the losses in place; updated like the GPU's.
 */
export function guardedAdamwCpu(
  state: { params: Float32Array; grads: Float32Array; m: Float32Array; v: Float32Array; normSq: Float32Array; stepParams: Float32Array; result: Uint32Array },
  n: number,
  slots: number,
  hp: AdamWHyper,
  bounds: GuardBounds,
): void {
  const { params, grads, m, v, normSq, stepParams, result } = state;
  const words = new Float32Array(result.buffer, result.byteOffset, result.length);
  let flags = 0;
  let loss = 0;
  for (let i = 0; i < slots; i++) {
    if (nonFiniteBits(result[lossWord(i)])) flags |= GUARD.lossNonFinite;
    loss = Math.fround(loss + words[lossWord(i)]);
  }
  if (!(flags & GUARD.lossNonFinite) && loss > Math.fround(bounds.loss)) flags |= GUARD.lossOverBound;
  const nsBits = bitsOf(normSq[0]);
  const gb = Math.fround(bounds.gradNorm);
  if (nonFiniteBits(nsBits)) flags |= GUARD.gradNonFinite;
  else if (normSq[0] > Math.fround(gb * gb)) flags |= GUARD.gradOverBound;
  result[NORM_WORD] = nsBits;
  // The probe: the whole update on copies, then the largest magnitude as the GPU measures it.
  const p = params.slice(0, n);
  const m1 = m.slice(0, n);
  const v1 = v.slice(0, n);
  adamwStepCpu(p, grads, m1, v1, normSq, stepParams, n, hp);
  let maxBits = 0;
  for (let i = 0; i < n; i++) {
    maxBits = Math.max(maxBits, bitsOf(p[i]) & 0x7fffffff);
    for (const x of [m1[i], v1[i]]) {
      const b = bitsOf(x) & 0x7fffffff;
      if (b >= EXP) maxBits = Math.max(maxBits, b);
    }
  }
  result[1] = maxBits;
  if (maxBits >= EXP) flags |= GUARD.updateNonFinite;
  else if (words[1] > Math.fround(bounds.param)) flags |= GUARD.paramOverBound;
  result[0] = flags;
  if (flags) return;
  params.set(p);
  m.set(m1);
  v.set(v1);
}
