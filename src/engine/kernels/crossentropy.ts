// Fused softmax cross-entropy over the vocabulary (shaders/crossentropy.wgsl): GPU dispatches and
// CPU twins. Targets are already shifted; -100 (any target outside [0, V)) is ignored.
import code from '../../../shaders/crossentropy.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { withWorkgroupReductions } from './reductions';

export const crossEntropyShader = withWorkgroupReductions('crossentropy', code);
const WG = 256;

/**
 * losses (N) = per-row loss (0 for ignored rows); logits (N, V) are overwritten in place with
 * dlogits = (softmax - onehot) * weights[row] for counted rows, 0 for ignored rows.
 * targets: i32 (N); weights: f32 (N), each row's -dL/dlogp (src/engine/kernels/objective.ts).
 * softcap > 0: the logits are softcapLogits' output, and each dlogit is multiplied by
 * 1 - (logit / softcap)² (the gradient of the raw logits).
 */
export function crossEntropyForwardBackward(rec: Recorder, losses: Buf, logits: Buf, targets: Buf, weights: Buf, N: number, V: number, softcap = 0): void {
  rec.dispatch({
    shader: crossEntropyShader,
    entry: 'ce_forward_backward',
    overrides: { WG },
    uniforms: { N, V, softcap },
    bindings: [losses, logits, targets, weights],
    workgroups: grid(N, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** losses (N) only (eval); logits are not modified. */
export function crossEntropyForward(rec: Recorder, losses: Buf, logits: Buf, targets: Buf, N: number, V: number): void {
  rec.dispatch({
    shader: crossEntropyShader,
    entry: 'ce_forward',
    overrides: { WG },
    uniforms: { N, V, softcap: 0 },
    bindings: [losses, logits, targets],
    workgroups: grid(N, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** out[0] = sum(weights[i] * losses[i]) over 0..N, one workgroup (deterministic order). */
export function lossSum(rec: Recorder, out: Buf, losses: Buf, weights: Buf, N: number): void {
  rec.dispatch({
    shader: crossEntropyShader,
    entry: 'loss_sum',
    overrides: { WG },
    uniforms: { N, V: 0, softcap: 0 },
    bindings: [out, losses, weights],
    workgroups: [1],
  });
}

/** logits (N, V) = softcap · tanh(logits / softcap) in place (final_logit_softcapping; softcap > 0). */
export function softcapLogits(rec: Recorder, logits: Buf, N: number, V: number, softcap: number): void {
  if (!(softcap > 0)) throw new Error(`softcapLogits: softcap must be positive, not ${softcap}`);
  rec.dispatch({
    shader: crossEntropyShader,
    entry: 'softcap_logits',
    overrides: { WG },
    uniforms: { N, V, softcap },
    bindings: [null, logits],
    workgroups: grid(N, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

export function softcapLogitsCpu(logits: Float32Array | Float64Array, n: number, softcap: number): void {
  for (let i = 0; i < n; i++) logits[i] = softcap * Math.tanh(logits[i] / softcap);
}

function rowStats(logits: Float32Array, base: number, V: number): { max: number; sum: number } {
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[base + i]);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[base + i] - max);
  return { max, sum };
}

const isCounted = (t: number, V: number): boolean => t >= 0 && t < V;

export function crossEntropyForwardBackwardCpu(
  losses: Float32Array,
  logits: Float32Array,
  targets: Int32Array,
  weights: Float32Array,
  N: number,
  V: number,
  softcap = 0,
): void {
  for (let r = 0; r < N; r++) {
    const scale = weights[r];
    const base = r * V;
    const t = targets[r];
    if (!isCounted(t, V)) {
      losses[r] = 0;
      logits.fill(0, base, base + V);
      continue;
    }
    const { max, sum } = rowStats(logits, base, V);
    losses[r] = max + Math.log(sum) - logits[base + t];
    for (let i = 0; i < V; i++) {
      const x = logits[base + i];
      const g = (Math.exp(x - max) / sum - (i === t ? 1 : 0)) * (softcap > 0 ? 1 - (x / softcap) ** 2 : 1);
      logits[base + i] = g * scale;
    }
  }
}

export function crossEntropyForwardCpu(losses: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number): void {
  for (let r = 0; r < N; r++) {
    const base = r * V;
    const t = targets[r];
    if (!isCounted(t, V)) {
      losses[r] = 0;
      continue;
    }
    const { max, sum } = rowStats(logits, base, V);
    losses[r] = max + Math.log(sum) - logits[base + t];
  }
}

export function lossSumCpu(out: Float32Array, losses: Float32Array, weights: Float32Array, N: number): void {
  let s = 0;
  for (let i = 0; i < N; i++) s += losses[i] * weights[i];
  out[0] = s;
}
