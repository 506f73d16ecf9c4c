// A GPU memory estimate for a run, from the model's shape and the settings: the frozen weights,
// the LoRA parameters with their gradients and AdamW moments, and the activations kept for
// backward. Rough by design (within tens of percent); its job is to warn before a run that
// cannot fit, and to name the largest single buffer, which must fit one storage binding.
import { PROJECTIONS, type Projection } from '../engine/model/spec';
import { isAdaptedLayer, siteLora } from '../engine/lora/config';
import type { GpuInfo, ModelSummary, TrainSettings } from '../worker/protocol';

export interface MemoryEstimate {
  weights: number;
  lora: number;
  activations: number;
  total: number;
  largestBuffer: { label: string; bytes: number };
  /** Set when the run cannot fit: what and why. */
  blocker: string | null;
  /** Set when it may not fit. */
  warning: string | null;
}

/** Heuristic budget for one tab's GPU memory when the adapter does not tell (WebGPU never does). */
export const ASSUMED_BUDGET = 8 * 2 ** 30;

function projShape(m: ModelSummary, p: Projection): [number, number] {
  const q = m.numHeads * m.headDim;
  const kv = m.numKvHeads * m.headDim;
  const C = m.hiddenSize;
  const I = m.intermediateSize;
  const shapes: Record<Projection, [number, number]> = {
    q_proj: [q, C],
    k_proj: [kv, C],
    v_proj: [kv, C],
    o_proj: [C, q],
    gate_proj: [I, C],
    up_proj: [I, C],
    down_proj: [C, I],
  };
  return shapes[p];
}

export function estimateMemory(m: ModelSummary, s: TrainSettings, gpu: GpuInfo | null): MemoryEstimate {
  // Library models keep their int8/int4 matrices on the GPU (block 32 + one f32 scale per block);
  // everything else is uploaded as f32.
  const bytesPerWeight = m.quant === 'int4' ? 0.5 + 4 / 32 : m.quant === 'int8' ? 1 + 4 / 32 : 4;
  const weights = Math.round(m.params * bytesPerWeight);
  let loraFloats = 0;
  for (let layer = 0; layer < m.numLayers; layer++) {
    if (!isAdaptedLayer(s.lora, layer)) continue;
    for (const p of PROJECTIONS) {
      if (!s.lora.targetModules.includes(p)) continue;
      const [o, i] = projShape(m, p);
      loraFloats += siteLora(s.lora, layer, p).r * (o + i);
    }
  }
  const lora = loraFloats * 4 * 4; // params, grads, Adam m and v
  const B = s.batchSize;
  const T = s.maxLength;
  const C = m.hiddenSize;
  const I = m.intermediateSize;
  const H = m.numHeads;
  const q = m.numHeads * m.headDim;
  const kv = m.numKvHeads * m.headDim;
  // Per layer, what backward reads: norms, q/k/v, attention probabilities, o input, MLP.
  const perLayer = B * T * (4 * C + q + 2 * kv + q + 3 * I) + B * H * T * T;
  const kept = s.train.checkpointing ? m.numLayers * B * T * C + perLayer : m.numLayers * perLayer;
  const logits = 2 * B * T * m.vocabSize; // logits and their gradient
  const scratch = 4 * B * T * Math.max(C, I, q);
  const activations = (kept + logits + scratch) * 4;
  const total = weights + lora + activations;

  const candidates: Array<{ label: string; bytes: number }> = [
    { label: 'embedding table', bytes: m.vocabSize * C * bytesPerWeight },
    { label: 'logits (batch × length × vocabulary)', bytes: B * T * m.vocabSize * 4 },
    { label: 'MLP weight', bytes: I * C * bytesPerWeight },
    { label: 'attention scores', bytes: B * H * T * T * 4 },
  ];
  const largestBuffer = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  let blocker: string | null = null;
  let warning: string | null = null;
  if (gpu && largestBuffer.bytes > gpu.maxStorageBufferBindingSize) {
    blocker = `The ${largestBuffer.label} needs ${formatBytes(largestBuffer.bytes)} in one buffer; this GPU binds at most ${formatBytes(gpu.maxStorageBufferBindingSize)}. Lower batch size or max length.`;
  } else if (total > ASSUMED_BUDGET) {
    warning = `This run needs about ${formatBytes(total)} of GPU memory, more than a browser tab usually gets (${formatBytes(ASSUMED_BUDGET)}). Lower batch size or max length, or turn on gradient checkpointing.`;
  }
  return { weights, lora, activations, total, largestBuffer, blocker, warning };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
