// The arithmetic one LoRA training step needs, counted from the shapes: what "model FLOP/s" (the
// useful work per second, as MFU figures count it) divides by. A step on a B×T batch is:
//   frozen linears (7 projections per layer, the LM head): forward 2·N·in·out and, since the base
//     is frozen, only the input gradient backward, 2·N·in·out (no weight gradient);
//   LoRA on each adapted projection (rank r): forward 2·N·r·(in + out) (down, up), backward
//     4·N·r·(in + out) (dB, dh, dA, dx);
//   causal attention per (row, query head): forward 4·D per visible key (QKᵀ and PV), backward 8·D
//     (dP, dS·K, dSᵀ·Q, Pᵀ·dO), T(T+1)/2 visible pairs per row (fewer in a sliding window W:
//     min(t + 1, W) keys for query t; the kernels skip the rest).
// Recomputation (checkpointing, attention backward recomputing P) is not counted: it is work a
// step chooses to redo, not work the model needs. Norms, RoPE, SwiGLU and softmax are left out
// (a few FLOPs per element against thousands per token in the products).
import type { ModelSpec, Projection } from '../model/spec';
import { familyTargets, layerAttention, projectionShape, projectionsOf } from '../model/arch';

export interface StepShape {
  batch: number;
  seq: number;
  rank: number;
  targets?: readonly Projection[];
}

/** FLOPs of one training step (forward + backward, one micro-batch) of `spec` on a batch × seq batch. */
export function trainStepFlops(spec: ModelSpec, shape: StepShape): number {
  const N = shape.batch * shape.seq;
  const targets = shape.targets ? familyTargets(spec, shape.targets) : projectionsOf(spec);
  let linears = 0;
  for (const p of projectionsOf(spec)) {
    const [out, inp] = projectionShape(spec, p);
    linears += 4 * N * inp * out;
    if (targets.includes(p)) linears += 6 * N * shape.rank * (inp + out);
  }
  let total = 4 * N * spec.hiddenSize * spec.vocabSize; // the head
  for (let l = 0; l < spec.numLayers; l++) {
    const W = layerAttention(spec, l).window ?? shape.seq;
    const T = shape.seq;
    // Σ_t min(t + 1, W): the full triangle up to W, then W keys per query.
    const pairs = Math.min(T, W) * (Math.min(T, W) + 1) / 2 + Math.max(0, T - W) * W;
    total += linears + 12 * spec.headDim * pairs * spec.numHeads * shape.batch;
  }
  return total;
}
