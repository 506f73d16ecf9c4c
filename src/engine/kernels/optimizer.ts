// Global gradient norm and AdamW over flat f32 buffers (shaders/optimizer.wgsl): GPU dispatches and
// CPU twins. Matches torch.nn.utils.clip_grad_norm_ followed by torch.optim.AdamW.
import code from '../../../shaders/optimizer.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { withWorkgroupReductions } from './reductions';

export const optimizerShader = withWorkgroupReductions('optimizer', code);
const WG = 256;
/** Elements each invocation of norm_partials sums at least (before the workgroup count caps). */
const PER_THREAD = 4;
const MAX_PARTIALS = 1024;

export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** clip_grad_norm_ max_norm; 0 or less disables clipping. */
  maxGradNorm: number;
}

/** How many f32 the partials scratch of globalNormSquared needs (also its workgroup count). */
export function globalNormSquaredPartials(n: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(n / (WG * PER_THREAD))));
}

/** out[0] = sum(x[0..n)^2), in a fixed order (deterministic). partials: globalNormSquaredPartials(n) f32. */
export function globalNormSquared(rec: Recorder, out: Buf, partials: Buf, x: Buf, n: number): void {
  const parts = globalNormSquaredPartials(n);
  rec.dispatch({
    shader: optimizerShader,
    entry: 'norm_partials',
    overrides: { WG },
    uniforms: { n, parts },
    bindings: [null, partials, x],
    workgroups: [parts],
  });
  rec.dispatch({
    shader: optimizerShader,
    entry: 'norm_final',
    overrides: { WG },
    uniforms: { n, parts },
    bindings: [out, partials, null],
    workgroups: [1],
  });
}

/** [lr, bias_correction1, bias_correction2] for 1-based `step`, computed in float64. */
export function adamwStepParams(lr: number, beta1: number, beta2: number, step: number): Float32Array {
  return Float32Array.from([lr, 1 - Math.pow(beta1, step), 1 - Math.pow(beta2, step)]);
}

/**
 * One AdamW step over n elements, after clipping by the global norm: params, m, v updated in
 * place. normSq (1): sum of grad^2 (globalNormSquared); stepParams (3): adamwStepParams.
 * guard: the step's health words (src/engine/kernels/guard.ts): the update is skipped when its
 * flags word is non-zero; with `probe` the dispatch only measures the update into it (guardedAdamw).
 */
export function adamwStep(
  rec: Recorder,
  params: Buf,
  grads: Buf,
  m: Buf,
  v: Buf,
  normSq: Buf,
  stepParams: Buf,
  n: number,
  hp: AdamWHyper,
  guard: Buf,
  probe = false,
): void {
  rec.dispatch({
    shader: optimizerShader,
    entry: 'adamw_step',
    overrides: { WG, PROBE: probe ? 1 : 0 },
    // 1 - beta in float64, then rounded (torch passes the scalar 1 - beta, not 1 - f32(beta)).
    uniforms: {
      n,
      beta1: hp.beta1,
      beta2: hp.beta2,
      one_minus_beta1: 1 - hp.beta1,
      one_minus_beta2: 1 - hp.beta2,
      eps: hp.eps,
      weight_decay: hp.weightDecay,
      max_grad_norm: hp.maxGradNorm,
    },
    bindings: [params, grads, m, v, normSq, stepParams, guard],
    workgroups: grid(Math.ceil(n / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** CPU twin: out[0] = sum(x^2) in float64; partials (if long enough) get the same split as the GPU. */
export function globalNormSquaredCpu(out: Float32Array, partials: Float32Array, x: Float32Array, n: number): void {
  const parts = globalNormSquaredPartials(n);
  const acc = new Float64Array(parts);
  for (let i = 0; i < n; i++) acc[Math.floor(i / WG) % parts] += x[i] * x[i];
  let total = 0;
  for (let w = 0; w < parts; w++) {
    if (w < partials.length) partials[w] = acc[w];
    total += acc[w];
  }
  out[0] = total;
}

/** CPU twin of adamwStep, float64 internally (state rounded to f32 when stored, as on the GPU). */
export function adamwStepCpu(
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  normSq: Float32Array,
  stepParams: Float32Array,
  n: number,
  hp: AdamWHyper,
): void {
  const [lr, bc1, bc2] = [stepParams[0], stepParams[1], stepParams[2]];
  const { beta1, beta2, eps, weightDecay, maxGradNorm } = hp;
  const clip = maxGradNorm > 0 ? Math.min(1, maxGradNorm / (Math.sqrt(normSq[0]) + 1e-6)) : 1;
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = grads[i] * clip;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const p = params[i] * (1 - lr * weightDecay);
    params[i] = p - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}
