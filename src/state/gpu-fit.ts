// Whether a run fits this GPU adapter: the engine's own memory estimate (engine/train/memory.ts,
// the trainer's buffer list for the loaded model's real spec) against the adapter's buffer limits
// (maxBufferSize, maxStorageBufferBindingSize), and when it does not, what would: a shorter max
// length, a smaller batch, a 4-bit or 8-bit base, gradient checkpointing. The settings panel
// explains with it and "Start training" is refused with its message: the same numbers.
// Pure: no React, no store.
import { MIN_SEQ, maxSeqFor, packedLength } from '../engine/train/plan';
import { estimateTrainingMemory, preferenceRows, type MemoryEstimate, type MemoryEstimateOptions } from '../engine/train/memory';
import type { BaseQuant } from '../engine/model/gpu-weights';
import { formatBytes } from '../util/format-bytes';
import type { GpuInfo, ModelSummary, TrainSettings } from '../worker/protocol';

/** Heuristic budget for one tab's GPU memory when the adapter does not tell (WebGPU never does). */
export const ASSUMED_BUDGET = 8 * 2 ** 30;

/** How the base weights reach the GPU: library int8/int4 matrices stay quantized, anything else is f32. */
export function weightQuant(q: string): BaseQuant {
  return q === 'int8' || q === 'int4' ? q : 'none';
}

export interface FitProblem {
  limit: 'maxBufferSize' | 'maxStorageBufferBindingSize';
  label: string;
  bytes: number;
  max: number;
}

export interface FitCheck {
  fits: boolean;
  /** Sequence length and batch the engine would allocate for. */
  batch: number;
  seq: number;
  estimate: MemoryEstimate;
  problems: FitProblem[];
  /** Why it cannot fit (numbers, the estimate's parts, hints), or null when it fits. */
  message: string | null;
  /** Changes that would make it fit, most useful first. */
  suggestions: string[];
  /** Nothing fits, even batch size 1 with the shortest sequences: the model is too big for this adapter as stored. */
  modelTooBig: boolean;
  /** It fits the limits but may not fit a tab's memory (ASSUMED_BUDGET). */
  warning: string | null;
}

/** What a trainer buffer holds, in words (labels as activations.ts and gpu-weights.ts name them). */
export function bufferName(label: string): string {
  if (label === 'logits') return 'logits chunk (rows, vocabulary)';
  if (/(^|\.)(gate|up|act)$|^d(Act|I1|I2)$/.test(label)) return 'per-token activation (N, I)';
  if (/^x\d+$|\.(n1|n2|xMid)$|^(nf|dx|dn)$/.test(label)) return 'per-token hidden state (N, C)';
  if (/\.(q|att|qRaw)$|^(dq|dAtt|dqRaw)$/.test(label)) return 'per-token query (N, heads × head_dim)';
  if (/\.(k|v|kRaw)$|^(dk|dv|dkRaw)$/.test(label)) return 'per-token key or value (N, kv_heads × head_dim)';
  if (/Partials$/.test(label)) return `split-K partials (${label})`;
  if (/\.weight(\.q|\.scales)?$/.test(label)) return `weight ${label.replace(/\.(q|scales)$/, '')}`;
  return label;
}

/** One line of the estimate's parts, for messages and the settings panel. */
export function describeEstimate(e: MemoryEstimate): string {
  const p = e.parts;
  return [
    `weights ${formatBytes(p.weights)}`,
    `LoRA and gradients ${formatBytes(p.lora)}`,
    `optimizer ${formatBytes(p.optimizer)}`,
    `activations ${formatBytes(p.activations)}`,
    `gradient scratch ${formatBytes(p.grad_scratch + p.split_k_scratch)}`,
    `logits ${formatBytes(p.logits)}`,
    `other ${formatBytes(p.rope + p.staging + p.uniforms)}`,
    `total ${formatBytes(e.total_bytes)}`,
  ].join(', ');
}

function problemsOf(e: MemoryEstimate, gpu: GpuInfo | null): FitProblem[] {
  if (!gpu) return [];
  const out: FitProblem[] = [];
  if (e.largest_buffer.bytes > gpu.maxBufferSize) out.push({ limit: 'maxBufferSize', label: bufferName(e.largest_buffer.label), bytes: e.largest_buffer.bytes, max: gpu.maxBufferSize });
  if (e.largest_binding.bytes > gpu.maxStorageBufferBindingSize) {
    out.push({ limit: 'maxStorageBufferBindingSize', label: bufferName(e.largest_binding.label), bytes: e.largest_binding.bytes, max: gpu.maxStorageBufferBindingSize });
  }
  return out;
}

/** The largest n in [lo, hi] with ok(n) (ok is monotone: true up to some n), or null. */
function largest(lo: number, hi: number, ok: (n: number) => boolean): number | null {
  if (hi < lo || !ok(lo)) return null;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Checks a run against the adapter's limits (none yet when `gpu` is null: the estimate alone).
 * `longest`: the loaded dataset's longest example (the engine allocates for TrainingPlan's maxSeq:
 * min(max length, longest), at least MIN_SEQ, the shortest sequence the engine trains on; with
 * packing, max length); null when no dataset is loaded. `model` may be a Hub search result's spec
 * (not loaded yet).
 */
export function checkFit(model: Pick<ModelSummary, 'spec' | 'quant' | 'randomWeights'>, s: TrainSettings, gpu: GpuInfo | null, longest: number | null): FitCheck {
  const quant = weightQuant(model.quant);
  // Packed rows are always Max length long (TrainingPlan's packedLength).
  const seq = s.packing ? packedLength(longest || s.maxLength, s.maxLength) : maxSeqFor(longest || s.maxLength, s.maxLength);
  const base: MemoryEstimateOptions = { batch: s.batchSize, seq, lora: s.lora, quant, checkpointing: s.train.checkpointing, gradAccum: s.train.gradAccum };
  // `batch` is the page's Batch size (pairs for a preference method, each two rows: preferenceRows).
  const method = s.train.method ?? 'sft';
  const est = (o: Partial<MemoryEstimateOptions>) => estimateTrainingMemory(model.spec, { ...base, ...o, batch: preferenceRows(o.batch ?? base.batch, method), method });
  const fitsWith = (o: Partial<MemoryEstimateOptions>) => problemsOf(est(o), gpu).length === 0;
  const estimate = est({});
  const problems = problemsOf(estimate, gpu);
  if (problems.length === 0) {
    const warning =
      estimate.total_bytes > ASSUMED_BUDGET
        ? `This run needs about ${formatBytes(estimate.total_bytes)} of GPU memory, more than a browser tab usually gets (${formatBytes(ASSUMED_BUDGET)}). Lower batch size or max length, or turn on gradient checkpointing.`
        : null;
    return { fits: true, batch: base.batch, seq, estimate, problems, message: null, suggestions: [], modelTooBig: false, warning };
  }
  const hints = [...(quant === 'none' ? ['a 4-bit or 8-bit base'] : []), 'a smaller batch size or max length'];
  const message = `This run cannot fit: ${problems
    .map((p) => `the ${p.label} needs ${formatBytes(p.bytes)} but this GPU allows ${formatBytes(p.max)} (${p.limit})`)
    .join('; ')} (${describeEstimate(estimate)}). Try ${hints.join(', ')}.`;

  const suggestions: string[] = [];
  const modelTooBig = !fitsWith({ batch: 1, seq: MIN_SEQ });
  if (!modelTooBig) {
    const maxSeq = largest(MIN_SEQ, seq - 1, (t) => fitsWith({ seq: t }));
    if (maxSeq !== null) suggestions.push(`Max length ${maxSeq} or less (at batch size ${base.batch}).`);
    const maxBatch = largest(1, base.batch - 1, (b) => fitsWith({ batch: b }));
    if (maxBatch !== null) {
      const accum = Math.ceil((base.batch * s.train.gradAccum) / maxBatch);
      suggestions.push(
        `Batch size ${maxBatch} or less (at max length ${seq}); Gradient accumulation ${accum} keeps about ${base.batch * s.train.gradAccum} sequences per step.`,
      );
    }
    if (maxSeq === null && maxBatch === null) {
      const t1 = largest(MIN_SEQ, seq, (t) => fitsWith({ batch: 1, seq: t }));
      if (t1 !== null) suggestions.push(`Batch size 1 with Max length ${t1} or less.`);
    }
  }
  let quantHelps = false;
  for (const q of ['int4', 'int8'] as const) {
    if (quant === 'none' && fitsWith(modelTooBig ? { quant: q, batch: 1, seq: MIN_SEQ } : { quant: q })) {
      quantHelps = true;
      suggestions.push(
        `A ${q === 'int4' ? '4-bit' : '8-bit'} base (${q}): import the model into the library with Quantization ${q}; quantized weights are split across bindings${
          model.randomWeights ? ' (the demo model ships unquantized)' : ''
        }.`,
      );
      break;
    }
  }
  const ck = s.train.checkpointing ? null : est({ checkpointing: true });
  if (ck && ck.total_bytes < 0.95 * estimate.total_bytes) {
    suggestions.push(
      `Gradient checkpointing lowers the total from ${formatBytes(estimate.total_bytes)} to ${formatBytes(ck.total_bytes)}, but not the largest single buffer, which is what does not fit here.`,
    );
  }
  if (modelTooBig && !quantHelps) suggestions.unshift('A smaller model: even batch size 1 with the shortest sequences does not fit this GPU adapter.');
  return { fits: false, batch: base.batch, seq, estimate, problems, message, suggestions, modelTooBig, warning: null };
}

export const LIMIT_NAMES: Record<FitProblem['limit'], string> = {
  maxBufferSize: 'largest buffer (maxBufferSize)',
  maxStorageBufferBindingSize: 'largest storage binding (maxStorageBufferBindingSize)',
};
