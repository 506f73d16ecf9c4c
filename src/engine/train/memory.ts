// The GPU memory a training run will hold, before anything is allocated: the one estimate the
// page's "Start training" gate, its explanation and `cli estimate` use.
//
// It enumerates the trainer's own buffers rather than a formula of them:
//   - activations, gradient scratch, split-K partials and the logits chunk: allocateActivations
//     itself (engine/model/activations.ts), run against a counter instead of a GPU, so the saved
//     tensors per layer, checkpointing, the chunked LM head, the scratch sized by the largest
//     rank and the batch's inputs (ids, mask, positions, targets: one word per token each) are
//     counted exactly as the trainer allocates them;
//   - LoRA parameters, gradients and Adam moments: loraLayout's flat buffer (256-byte aligned);
//   - frozen weights: every tensor of expectedWeightShapes, matrices as createQuantWeight sizes them
//     for int8/int4 and f32 otherwise, norms and biases f32 (as uploadModelWeights does);
//   - the trainer's small buffers (norm partials, loss slots, the read-back) and the RoPE tables;
//   - the uniform blocks the recorded step programs create (not enumerable without recording them:
//     an upper bound per dispatch, a fraction of a percent of the total).
// engine/train/memory.test.ts holds this against what Trainer.create + prepare really allocate.
// Attention is flash-style: no (T, T) scores exist, only the (B, heads, T) log-sum-exp per layer.
import { storageBufferSize } from '../../gpu/gpu';
import { blocksPerRow, wordsPerRow } from '../../quant/format';
import { globalNormSquaredPartials } from '../kernels/optimizer';
import { guardWords } from '../kernels/guard';
import { loraLayout } from '../lora/layout';
import { allocateActivations } from '../model/activations';
import type { BaseQuant } from '../model/gpu-weights';
import { logitsChunkRows } from '../model/logits-chunk';
import type { ModelSpec } from '../model/spec';
import { expectedWeightShapes } from '../model/weights';
import { rotaryDim } from '../model/arch';
import { METRIC_WORDS } from '../kernels/objective';
import type { LoraHyper, Method } from './types';

export interface MemoryEstimateOptions {
  /** Rows and tokens per micro-batch the trainer is sized for (TrainerOptions.maxBatch / maxSeq). */
  batch: number;
  seq: number;
  lora: LoraHyper;
  /** How the frozen matrices sit on the GPU: int8/int4 blocks, or f32. */
  quant: BaseQuant;
  checkpointing: boolean;
  /** Micro-batches per step: one loss slot each in the read-back. */
  gradAccum?: number;
  /** Rows per LM-head chunk when forced (TrainerOptions.logitsChunkRows); default logitsChunkRows. */
  logitsChunkRows?: number;
  /**
   * The objective (objective.ts; default sft). `batch` counts rows: a preference micro-batch of P
   * pairs is 2P rows (preferenceRows). DPO and IPO also keep the reference's per-token losses.
   */
  method?: Method;
}

/** Rows of a micro-batch of `batch` examples: a preference pair is two sequences. */
export function preferenceRows(batch: number, method: Method = 'sft'): number {
  return method === 'sft' ? batch : 2 * batch;
}

/** One buffer: its label, bytes, and whether a kernel binds it whole (quantized matrices are bound in parts). */
export interface PlannedBuffer {
  part: MemoryPart;
  label: string;
  bytes: number;
  wholeBinding: boolean;
}

export type MemoryPart =
  | 'weights'
  | 'lora'
  | 'optimizer'
  | 'activations'
  | 'grad_scratch'
  | 'split_k_scratch'
  | 'logits'
  | 'rope'
  | 'staging'
  | 'uniforms';

export interface MemoryEstimate {
  total_bytes: number;
  /** The largest single buffer: it must fit maxBufferSize. */
  largest_buffer: { label: string; bytes: number };
  /** The largest buffer bound whole: it must fit maxStorageBufferBindingSize. */
  largest_binding: { label: string; bytes: number };
  parts: Record<MemoryPart, number>;
}

/**
 * Uniform bytes per decoder layer and per run of the recorded programs (train, eval loss,
 * forward, optimizer), an upper bound from counting them on the presets (each dispatch's block is
 * 16 to 64 bytes). Counted separately because they only exist once the programs are recorded.
 */
const UNIFORM_BYTES_PER_LAYER = 12 * 1024;
const UNIFORM_BYTES_FIXED = 16 * 1024;

/** Every buffer the trainer allocates for this run, in the order it allocates them. */
export function plannedBuffers(spec: ModelSpec, o: MemoryEstimateOptions): PlannedBuffer[] {
  for (const [k, v] of Object.entries({ batch: o.batch, seq: o.seq })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`memory estimate: ${k} must be a positive integer (got ${v})`);
  }
  const out: PlannedBuffer[] = [];
  const add = (part: MemoryPart, label: string, bytes: number, wholeBinding = true): void => {
    out.push({ part, label, bytes: storageBufferSize(bytes), wholeBinding });
  };

  // Frozen weights, as uploadModelWeights stores them.
  for (const [name, shape] of expectedWeightShapes(spec)) {
    const matrix = shape.length === 2 && !/norm/.test(name);
    if (matrix && o.quant !== 'none') {
      const [rows, cols] = shape;
      add('weights', `${name}.q`, rows * wordsPerRow(o.quant, cols) * 4, false);
      add('weights', `${name}.scales`, rows * blocksPerRow(cols) * 4, false);
    } else {
      add('weights', name, shape.reduce((a, b) => a * b, 1) * 4);
    }
  }

  // LoRA: parameters and gradients (Trainer.create), then the small per-run buffers.
  const layout = loraLayout(spec, o.lora);
  const n = layout.totalFloats;
  add('lora', 'lora.params', n * 4);
  add('lora', 'lora.grads', n * 4);
  add('staging', 'dropoutSeed', 4);
  add('staging', 'lossScale', 8);
  add('staging', 'loss', 4);

  // GpuModel: activations and scratch, counted by the allocator itself.
  const grad = new Set(['dx', 'dn', 'dAct', 'dI1', 'dI2', 'dAtt', 'dq', 'dk', 'dv', 'dqRaw', 'dkRaw', 'dh']);
  const partOf = (label: string): MemoryPart =>
    label === 'logits' ? 'logits' : label === 'loraPartials' || label === 'headPartials' ? 'split_k_scratch' : grad.has(label) ? 'grad_scratch' : 'activations';
  const counter = {
    createBuffer(bytes: number, label: string): GPUBuffer {
      add(partOf(label), label, bytes);
      // Nothing reads a counted buffer: activations.ts only hands them on.
      return { size: storageBufferSize(bytes), label } as unknown as GPUBuffer;
    },
  };
  const rows = o.logitsChunkRows ?? logitsChunkRows(o.batch * o.seq, spec.vocabSize);
  allocateActivations(counter, spec, layout, o.batch, o.seq, o.checkpointing, rows);
  const rope = o.seq * (rotaryDim(spec) / 2) * 4; // RopeTablesGpu: (T, R/2) each
  add('rope', 'rope.cos', rope);
  add('rope', 'rope.sin', rope);
  if (spec.ropeLocal) {
    // Sliding layers' own RoPE base (Gemma 3): a second pair of tables (LayerRopeTables).
    add('rope', 'rope.local.cos', rope);
    add('rope', 'rope.local.sin', rope);
  }

  // Trainer: AdamW moments, clipping, the step's result words (health flags, gradient norm, one
  // loss per micro-batch: src/engine/kernels/guard.ts) and their single read-back.
  add('optimizer', 'adam.m', n * 4);
  add('optimizer', 'adam.v', n * 4);
  add('optimizer', 'gradNormSq', 4);
  add('optimizer', 'stepParams', 16);
  add('optimizer', 'normPartials', globalNormSquaredPartials(n) * 4);
  // The objective's buffers (Objective's constructor, in its order).
  const tokens = o.batch * o.seq;
  const method = o.method ?? 'sft';
  add('activations', 'objective.tokenWeights', tokens * 4);
  for (const label of ['logp', 'ref', 'ratio']) add('activations', `objective.${label}`, o.batch * 4);
  add('activations', 'objective.refTokenLosses', method === 'dpo' || method === 'ipo' ? tokens * 4 : 4);
  for (const label of ['tokens', 'coef']) add('activations', `objective.${label}`, o.batch * 4);
  add('activations', 'objective.metrics', METRIC_WORDS * 4);
  const resultBytes = (guardWords(Math.max(1, o.gradAccum ?? 1)) + METRIC_WORDS) * 4;
  add('staging', 'stepResult', resultBytes);
  add('staging', 'readback', resultBytes);
  add('uniforms', 'uniform blocks (all dispatches)', UNIFORM_BYTES_FIXED + spec.numLayers * UNIFORM_BYTES_PER_LAYER);
  return out;
}

export function estimateTrainingMemory(spec: ModelSpec, o: MemoryEstimateOptions): MemoryEstimate {
  const parts: Record<MemoryPart, number> = {
    weights: 0,
    lora: 0,
    optimizer: 0,
    activations: 0,
    grad_scratch: 0,
    split_k_scratch: 0,
    logits: 0,
    rope: 0,
    staging: 0,
    uniforms: 0,
  };
  let largestBuffer = { label: 'none', bytes: 0 };
  let largestBinding = { label: 'none', bytes: 0 };
  let total = 0;
  for (const b of plannedBuffers(spec, o)) {
    parts[b.part] += b.bytes;
    total += b.bytes;
    if (b.part === 'uniforms') continue; // many small blocks, not one buffer
    if (b.bytes > largestBuffer.bytes) largestBuffer = { label: b.label, bytes: b.bytes };
    if (b.wholeBinding && b.bytes > largestBinding.bytes) largestBinding = { label: b.label, bytes: b.bytes };
  }
  return { total_bytes: total, largest_buffer: largestBuffer, largest_binding: largestBinding, parts };
}
