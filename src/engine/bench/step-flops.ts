// The arithmetic one LoRA training step needs, counted from the shapes: what "model FLOP/s" (the
// useful work per second, as MFU figures count it) divides by. A step on a B×T batch is:
//   frozen linears (7 projections per layer, the LM head): forward 2·N·in·out and, since the base
//     is frozen, only the input gradient backward, 2·N·in·out (no weight gradient);
//   LoRA on each adapted projection (rank r): forward 2·N·r·(in + out) (down, up), backward
//     4·N·r·(in + out) (dB, dh, dA, dx);
//   causal attention per (row, query head): forward 4·D per visible key (QKᵀ and PV), backward 8·D
//     (dP, dS·K, dSᵀ·Q, Pᵀ·dO), T(T+1)/2 visible pairs per row.
// Recomputation (checkpointing, attention backward recomputing P) is not counted: it is work a
// step chooses to redo, not work the model needs. Norms, RoPE, SwiGLU and softmax are left out
// (a few FLOPs per element against thousands per token in the products).
import type { ModelSpec, Projection } from '../model/spec';
import { familyTargets, projectionShape, projectionsOf } from '../model/arch';

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
  let perLayer = 0;
  for (const p of projectionsOf(spec)) {
    const [out, inp] = projectionShape(spec, p);
    perLayer += 4 * N * inp * out;
    if (targets.includes(p)) perLayer += 6 * N * shape.rank * (inp + out);
  }
  const pairs = (shape.seq * (shape.seq + 1)) / 2;
  perLayer += 12 * spec.headDim * pairs * spec.numHeads * shape.batch;
  const head = 4 * N * spec.hiddenSize * spec.vocabSize;
  return spec.numLayers * perLayer + head;
}
