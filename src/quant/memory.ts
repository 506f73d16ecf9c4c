// GPU memory a training run needs, computed before anything is allocated, so that a run that
// cannot fit is refused with the numbers instead of failing mid-run.
//
// The formula mirrors what the engine allocates (src/engine/model/activations.ts,
// src/engine/lora/layout.ts, src/engine/train/trainer.ts). With N = batch * seq tokens,
// C = hidden, I = intermediate, Q = heads * head_dim, KV = kv_heads * head_dim, V = vocab,
// L = layers, r = LoRA rank, all f32 (4 bytes) unless stated:
//
//   weights      per projection (out, in): int8 out*ceil(in/32)*36 B, int4 out*ceil(in/32)*20 B,
//                none (16-bit stored, expanded to f32 on upload) out*in*4 B; biases, norms f32;
//                embed_tokens (V, C) in the same format; lm_head (V, C) again unless tied.
//   activations  per layer kept for backward: n1, xMid, n2 (3·N·C) + q, att (2·N·Q) + k, v (2·N·KV)
//                + gate, up, act (3·N·I) + rstd1, rstd2 (2·N) + lse (N·heads)
//                + Qwen3 qk-norm: qRaw (N·Q), kRaw (N·KV), rstdQ/K (N·(heads+kv_heads))
//                + LoRA h (N·r per targeted projection of the layer);
//                × L without checkpointing, × 1 (one recompute set) with checkpointing;
//                plus the residual stream at every layer input, (L + 1)·N·C, kept either way,
//                the final norm nf (N·C) + rstdF (N), and ids/mask/targets/losses (4·N).
//   grad scratch dx, dn (2·N·C) + dAct, dI1, dI2 (3·N·I) + dAtt, dq (2·N·Q) + dk, dv (2·N·KV)
//                + dqRaw, dkRaw (Qwen3) + dh (N·r) + the LoRA split-K partials
//                (loraSplitScratchFloats, engine/kernels/lora.ts): one set, reused by every layer;
//                + the LM-head backward's split-K partials (matmulSplitScratchFloats over one
//                head chunk's rows, engine/kernels/matmul.ts: ≲ 1024 tiles of 64x64 floats).
//   lora         P = Σ over targeted projections of r·(in + out), each tensor padded to 64
//                floats: params + grads + Adam m + Adam v = 4·P·4 B (+ small norm partials).
//   logits / CE  one chunk of rows·V, rows = logitsChunkRows(N, V) (≤ 128 MiB unless N < 64 rows
//                are already larger); the loss overwrites them with their gradient in place.
//   overhead     uniforms, readbacks, pipeline scratch: a flat 16 MiB.
//
// Buffer limits matter as much as the total: the largest single buffer (often the logits, or an
// f32 embedding) must fit maxBufferSize, and one binding of it maxStorageBufferBindingSize
// (quantized weights are split across bindings; f32 ones are not).

import { PROJECTIONS, projectionShape, type ModelSpec, type Projection } from '../engine/model/spec';
import { logitsChunkRows } from '../engine/model/logits-chunk';
import { loraSplitScratchFloats } from '../engine/kernels/lora';
import { matmulSplitScratchFloats } from '../engine/kernels/matmul';
import { blocksPerRow, wordsPerRow } from './format';

export type WeightQuant = 'int8' | 'int4' | 'none';

export interface MemoryEstimateOptions {
  batch: number;
  seq: number;
  rank: number;
  targets: readonly Projection[];
  quant: WeightQuant;
  checkpointing: boolean;
}

export interface MemoryEstimate {
  weights: number;
  activations: number;
  gradScratch: number;
  lora: { params: number; grads: number; adam: number; total: number };
  logits: number;
  overhead: number;
  total: number;
  /** The largest single buffer and what it holds. */
  largestBuffer: { label: string; bytes: number };
  /** The largest buffer bound whole as one storage binding (f32 weights, logits, activations). */
  largestBinding: { label: string; bytes: number };
}

const F = 4;
const ALIGN_FLOATS = 64;
const OVERHEAD = 16 * 1024 * 1024;

/** Bytes of a (rows, cols) frozen matrix on the GPU in a given format. */
export function matrixBytes(rows: number, cols: number, quant: WeightQuant): number {
  if (quant === 'none') return rows * cols * F;
  return rows * (wordsPerRow(quant, cols) + blocksPerRow(cols)) * F;
}

export function estimateGpuMemory(spec: ModelSpec, o: MemoryEstimateOptions): MemoryEstimate {
  for (const [k, v] of Object.entries({ batch: o.batch, seq: o.seq, rank: o.rank })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`estimateGpuMemory: ${k} must be a positive integer (got ${v})`);
  }
  const N = o.batch * o.seq;
  const C = spec.hiddenSize;
  const I = spec.intermediateSize;
  const Q = spec.numHeads * spec.headDim;
  const KV = spec.numKvHeads * spec.headDim;
  const V = spec.vocabSize;
  const L = spec.numLayers;
  const r = o.rank;
  const targets = PROJECTIONS.filter((p) => o.targets.includes(p));

  // ---- weights
  let weights = 0;
  let largestBuffer = { label: 'none', bytes: 0 };
  let largestBinding = { label: 'none', bytes: 0 };
  const see = (label: string, bytes: number, wholeBinding: boolean): void => {
    if (bytes > largestBuffer.bytes) largestBuffer = { label, bytes };
    if (wholeBinding && bytes > largestBinding.bytes) largestBinding = { label, bytes };
  };
  for (const p of PROJECTIONS) {
    const [out, inn] = projectionShape(spec, p);
    const b = matrixBytes(out, inn, o.quant);
    weights += L * b;
    see(`${p} weight`, o.quant === 'none' ? b : out * wordsPerRow(o.quant, inn) * F, o.quant === 'none');
    const bias = p === 'o_proj' ? spec.oBias : p === 'gate_proj' || p === 'up_proj' || p === 'down_proj' ? spec.mlpBias : spec.qkvBias;
    if (bias) weights += L * out * F;
  }
  weights += L * 2 * C * F; // input_layernorm, post_attention_layernorm
  if (spec.qkNorm) weights += L * 2 * spec.headDim * F;
  weights += C * F; // final norm
  const emb = matrixBytes(V, C, o.quant);
  weights += spec.tieWordEmbeddings ? emb : 2 * emb;
  see('embedding', o.quant === 'none' ? emb : V * wordsPerRow(o.quant, C) * F, o.quant === 'none');

  // ---- activations
  const loraPerLayer = targets.length * N * r;
  const perLayer =
    3 * N * C + 2 * N * Q + 2 * N * KV + 3 * N * I + 2 * N + N * spec.numHeads + (spec.qkNorm ? N * Q + N * KV + N * (spec.numHeads + spec.numKvHeads) : 0) + loraPerLayer;
  const layerSets = o.checkpointing ? 1 : L;
  const activationsFloats = layerSets * perLayer + (L + 1) * N * C + N * C + N + 4 * N;
  const activations = activationsFloats * F;
  see('per-token activation (N, I)', N * I * F, true);

  // ---- grad scratch
  const loraPartials = loraSplitScratchFloats(N, r, targets.map((p) => projectionShape(spec, p)));
  see('LoRA split-K partials', loraPartials * F, true);
  const headPartials = matmulSplitScratchFloats(Math.min(N, logitsChunkRows(N, V)), C, V);
  see('LM-head split-K partials', headPartials * F, true);
  const gradScratch = (2 * N * C + 3 * N * I + 2 * N * Q + 2 * N * KV + (spec.qkNorm ? N * Q + N * KV : 0) + N * r + loraPartials + headPartials) * F;

  // ---- LoRA
  let loraFloats = 0;
  for (const p of targets) {
    const [out, inn] = projectionShape(spec, p);
    loraFloats += L * (Math.ceil((r * inn) / ALIGN_FLOATS) * ALIGN_FLOATS + Math.ceil((out * r) / ALIGN_FLOATS) * ALIGN_FLOATS);
  }
  loraFloats = Math.max(loraFloats, ALIGN_FLOATS);
  const lora = { params: loraFloats * F, grads: loraFloats * F, adam: 2 * loraFloats * F, total: 4 * loraFloats * F };

  // ---- logits: one head chunk at a time (src/engine/model/logits-chunk.ts)
  const logits = Math.min(N, logitsChunkRows(N, V)) * V * F;
  see('logits chunk (rows, vocab)', logits, true);

  const total = weights + activations + gradScratch + lora.total + logits + OVERHEAD;
  return { weights, activations, gradScratch, lora, logits, overhead: OVERHEAD, total, largestBuffer, largestBinding };
}

export class MemoryTooSmallError extends Error {
  override name = 'MemoryTooSmallError';
}

export interface MemoryLimits {
  /** Total bytes the run may use (a user setting or a known GPU size); omit to skip the total check. */
  budgetBytes?: number;
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** One line per category, for messages and the settings panel. */
export function describeEstimate(e: MemoryEstimate): string {
  return [
    `weights ${formatBytes(e.weights)}`,
    `activations ${formatBytes(e.activations)}`,
    `gradient scratch ${formatBytes(e.gradScratch)}`,
    `LoRA params+grads+Adam ${formatBytes(e.lora.total)}`,
    `logits ${formatBytes(e.logits)}`,
    `other ${formatBytes(e.overhead)}`,
    `total ${formatBytes(e.total)}`,
  ].join(', ');
}

/**
 * Throws MemoryTooSmallError, with the numbers and what to change, when the run cannot fit the
 * given limits (pass gpu.limits' maxBufferSize / maxStorageBufferBindingSize and a budget).
 */
export function assertFits(e: MemoryEstimate, limits: MemoryLimits, opts?: Partial<MemoryEstimateOptions>): void {
  const problems: string[] = [];
  if (limits.maxBufferSize !== undefined && e.largestBuffer.bytes > limits.maxBufferSize) {
    problems.push(`the ${e.largestBuffer.label} buffer needs ${formatBytes(e.largestBuffer.bytes)} but this GPU's largest buffer is ${formatBytes(limits.maxBufferSize)}`);
  }
  if (limits.maxStorageBufferBindingSize !== undefined && e.largestBinding.bytes > limits.maxStorageBufferBindingSize) {
    problems.push(
      `the ${e.largestBinding.label} buffer needs ${formatBytes(e.largestBinding.bytes)} in one binding but this GPU allows ${formatBytes(limits.maxStorageBufferBindingSize)}`,
    );
  }
  if (limits.budgetBytes !== undefined && e.total > limits.budgetBytes) {
    problems.push(`the run needs ${formatBytes(e.total)} of GPU memory but ${formatBytes(limits.budgetBytes)} is available`);
  }
  if (problems.length === 0) return;
  const hints: string[] = [];
  if (opts?.quant === 'none') hints.push('a 4-bit or 8-bit base');
  if (opts && !opts.checkpointing) hints.push('gradient checkpointing');
  hints.push('a smaller batch size or max length');
  throw new MemoryTooSmallError(`This run cannot fit: ${problems.join('; ')} (${describeEstimate(e)}). Try ${hints.join(', ')}.`);
}
