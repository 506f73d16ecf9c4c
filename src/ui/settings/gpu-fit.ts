// Whether a run fits this GPU adapter's buffer limits (maxBufferSize, maxStorageBufferBindingSize),
// from src/quant/memory.ts's estimate of what the engine allocates, and when it does not, what
// would: a shorter max length, a smaller batch, a 4-bit or 8-bit base, gradient checkpointing.
// Pure: no React, no store.
import { PROJECTIONS, type ModelSpec } from '../../engine/model/spec';
import { MIN_SEQ, maxSeqFor } from '../../engine/train/plan';
import { assertFits, estimateGpuMemory, formatBytes, MemoryTooSmallError, type MemoryEstimate, type MemoryEstimateOptions, type WeightQuant } from '../../quant/memory';
import type { GpuInfo, ModelSummary, TrainSettings } from '../../worker/protocol';

/** The engine's ModelSpec as far as the memory estimate needs it, from the worker's summary. */
export function specOf(m: ModelSummary): ModelSpec {
  return {
    architecture: m.architecture,
    modelType: (['llama', 'mistral', 'qwen2', 'qwen3'].includes(m.modelType) ? m.modelType : 'llama') as ModelSpec['modelType'],
    vocabSize: m.vocabSize,
    hiddenSize: m.hiddenSize,
    intermediateSize: m.intermediateSize,
    numLayers: m.numLayers,
    numHeads: m.numHeads,
    numKvHeads: m.numKvHeads,
    headDim: m.headDim,
    rmsNormEps: 1e-6,
    rope: { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: m.maxPositionEmbeddings },
    tieWordEmbeddings: m.tieWordEmbeddings,
    qkvBias: m.modelType === 'qwen2',
    oBias: false,
    mlpBias: false,
    qkNorm: m.modelType === 'qwen3',
    maxPositionEmbeddings: m.maxPositionEmbeddings,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: null,
  };
}

/** How the base weights reach the GPU: library int8/int4 matrices stay quantized, anything else is f32. */
export function weightQuant(q: string): WeightQuant {
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
  /** assertFits' message (numbers, the estimate's parts, hints), or null when it fits. */
  message: string | null;
  /** Changes that would make it fit, most useful first. */
  suggestions: string[];
  /** Nothing fits, even batch size 1 with the shortest sequences: the model is too big for this adapter as stored. */
  modelTooBig: boolean;
}

function problemsOf(e: MemoryEstimate, gpu: GpuInfo): FitProblem[] {
  const out: FitProblem[] = [];
  if (e.largestBuffer.bytes > gpu.maxBufferSize) out.push({ limit: 'maxBufferSize', label: e.largestBuffer.label, bytes: e.largestBuffer.bytes, max: gpu.maxBufferSize });
  if (e.largestBinding.bytes > gpu.maxStorageBufferBindingSize) {
    out.push({ limit: 'maxStorageBufferBindingSize', label: e.largestBinding.label, bytes: e.largestBinding.bytes, max: gpu.maxStorageBufferBindingSize });
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
 * Checks a run against the adapter's limits. `longest`: the loaded dataset's longest example (the
 * engine allocates for TrainingPlan's maxSeq: min(max length, longest), at least MIN_SEQ, the
 * shortest sequence the engine trains on); null when no dataset is loaded.
 */
export function checkFit(model: ModelSummary, s: TrainSettings, gpu: GpuInfo, longest: number | null): FitCheck {
  const spec = specOf(model);
  const quant = weightQuant(model.quant);
  const seq = maxSeqFor(longest || s.maxLength, s.maxLength);
  const base: MemoryEstimateOptions = {
    batch: s.batchSize,
    seq,
    rank: s.lora.r,
    targets: s.lora.targetModules.length ? s.lora.targetModules : [...PROJECTIONS],
    quant,
    checkpointing: s.train.checkpointing,
  };
  const est = (o: Partial<MemoryEstimateOptions>) => estimateGpuMemory(spec, { ...base, ...o });
  const fitsWith = (o: Partial<MemoryEstimateOptions>) => problemsOf(est(o), gpu).length === 0;
  const estimate = est({});
  const problems = problemsOf(estimate, gpu);
  if (problems.length === 0) return { fits: true, batch: base.batch, seq, estimate, problems, message: null, suggestions: [], modelTooBig: false };

  let message: string;
  try {
    assertFits(estimate, { maxBufferSize: gpu.maxBufferSize, maxStorageBufferBindingSize: gpu.maxStorageBufferBindingSize }, base);
    message = '';
  } catch (e) {
    message = e instanceof MemoryTooSmallError ? e.message : String(e);
  }

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
  if (ck && ck.total < 0.95 * estimate.total) {
    suggestions.push(
      `Gradient checkpointing lowers the total from ${formatBytes(estimate.total)} to ${formatBytes(ck.total)}, but not the largest single buffer, which is what does not fit here.`,
    );
  }
  if (modelTooBig && !quantHelps) suggestions.unshift('A smaller model: even batch size 1 with the shortest sequences does not fit this GPU adapter.');
  return { fits: false, batch: base.batch, seq, estimate, problems, message, suggestions, modelTooBig };
}

export const LIMIT_NAMES: Record<FitProblem['limit'], string> = {
  maxBufferSize: 'largest buffer (maxBufferSize)',
  maxStorageBufferBindingSize: 'largest storage binding (maxStorageBufferBindingSize)',
};
