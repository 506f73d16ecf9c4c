// The whole causal LM on the GPU: records forward (ids → final hidden state) and head + loss +
// backward (→ LoRA gradients) into a Recorder; the head runs in token chunks (logits-chunk.ts). Recording happens once per batch shape; the trainer
// replays the recorded programs every step.
import type { Buf, BufferView, Gpu, Recorder } from '../../gpu/gpu';
import { crossEntropyForward, crossEntropyForwardBackward, softcapLogits } from '../kernels/crossentropy';
import { embedScale } from './arch';
import { rmsnormBackward, rmsnormForward } from '../kernels/rmsnorm';
import { LayerRopeTables } from './layer-rope';
import type { LoraLayout, LoraSite } from '../lora/layout';
import { allocateActivations, type Activations } from './activations';
import type { LinearWeight, ModelWeightsGpu } from './gpu-weights';
import { logitsChunkRows, logitsChunks } from './logits-chunk';
import { layerBackward, layerForward, type LayerContext } from './layer';
import { embed, projBackwardInput, projForward } from './linear';
import type { ModelSpec, Projection } from './spec';

export interface GpuModelOptions {
  maxB: number;
  maxT: number;
  checkpointing: boolean;
  /** Rows per LM-head chunk; default from logitsChunkRows. Tests force small chunks. */
  logitsChunkRows?: number;
}

/**
 * The loss seam: how the head's per-token losses become the loss and the per-token gradient
 * weights of the one backward pass (src/engine/train/objective.ts: SFT, DPO, IPO, ORPO).
 */
export interface HeadObjective {
  /** weight[t] = -dL/dlogp(token t), (N): the fused cross-entropy scales token t's gradient by it. */
  readonly tokenWeights: GPUBuffer;
  /** After recordForward, before the head backward: fills tokenWeights (may run recordTokenLosses first). */
  recordWeights(rec: Recorder, B: number, T: number): void;
  /** After the head backward (acts.losses hold the per-token losses): the loss into the model's `loss`. */
  recordLoss(rec: Recorder, B: number, T: number): void;
}

const NO_SITES: ReadonlyMap<Projection, LoraSite> = new Map();

/** Rows start .. start + rows of a row-major (N, width) f32 buffer, as a binding view. */
function rowRange(buffer: GPUBuffer, start: number, rows: number, width: number): BufferView {
  return { buffer, offset: start * width * 4, size: rows * width * 4 };
}

export class GpuModel {
  readonly acts: Activations;
  /** Every layer's RoPE tables (a sliding layer's own base on Gemma 3; LongRoPE's factors per batch). */
  private readonly rope: LayerRopeTables;
  private readonly sitesByLayer: Map<Projection, LoraSite>[];
  private readonly ownBuffers: GPUBuffer[] = [];

  constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    readonly weights: ModelWeightsGpu,
    readonly layout: LoraLayout,
    /** Flat LoRA parameters and gradients (see lora/layout.ts). */
    readonly params: GPUBuffer,
    readonly grads: GPUBuffer,
    /** u32 [seed] for dropout, the objective's f32 scales (objective.ts), f32 [loss] result. */
    readonly dropoutSeed: GPUBuffer,
    readonly lossScale: GPUBuffer,
    readonly loss: GPUBuffer,
    readonly options: GpuModelOptions,
  ) {
    this.acts = allocateActivations(
      gpu,
      spec,
      layout,
      options.maxB,
      options.maxT,
      options.checkpointing,
      options.logitsChunkRows ?? logitsChunkRows(options.maxB * options.maxT, spec.vocabSize),
    );
    this.rope = new LayerRopeTables(gpu, spec, options.maxT, 'rope');
    this.ownBuffers.push(...this.rope.buffers);
    this.sitesByLayer = Array.from({ length: spec.numLayers }, () => new Map());
    for (const s of layout.sites) this.sitesByLayer[s.layer].set(s.proj, s);
  }

  private context(layer: number, B: number, T: number, dropoutP: number, adapter = true): LayerContext {
    const rope = this.rope.forLayer(layer);
    return {
      spec: this.spec,
      layer,
      B,
      T,
      mask: this.acts.mask,
      positions: this.acts.positions,
      ropeCos: rope.cos,
      ropeSin: rope.sin,
      lora: this.layout,
      sites: adapter ? this.sitesByLayer[layer] : (NO_SITES as Map<Projection, LoraSite>),
      params: this.params,
      grads: this.grads,
      dropoutSeed: this.dropoutSeed,
      dropoutP,
      loraSplit: { partials: this.acts.grad.loraPartials },
    };
  }

  /** Before the passes over a batch whose longest example has seqLen tokens (max position + 1): LongRoPE's factors. */
  selectRope(seqLen: number): void {
    this.rope.select(seqLen);
  }

  private checkShape(B: number, T: number): void {
    if (B < 1 || T < 1 || B > this.options.maxB || T > this.options.maxT) {
      throw new Error(`batch ${B}x${T} exceeds the allocated ${this.options.maxB}x${this.options.maxT}`);
    }
  }

  /**
   * ids, mask, positions → final normed hidden state nf (N, C). Saves what backward needs.
   * adapter false: the base model alone (every LoRA scale 0), a preference loss's reference.
   */
  recordForward(rec: Recorder, B: number, T: number, dropoutP: number, adapter = true): void {
    this.checkShape(B, T);
    const { spec, acts, weights } = this;
    const N = B * T;
    const C = spec.hiddenSize;
    embed(rec, acts.layerInputs[0], acts.ids, weights.embed, N, C, embedScale(spec));
    for (let l = 0; l < spec.numLayers; l++) {
      layerForward(rec, this.context(l, B, T, dropoutP, adapter), weights.layers[l], acts.layers[l], acts.layerInputs[l], acts.layerInputs[l + 1]);
    }
    const xL = acts.layerInputs[spec.numLayers];
    rmsnormForward(rec, acts.nf, acts.rstdF, xL, weights.norm, N, C, spec.rmsNormEps);
  }

  /** The LM-head chunks covering N tokens (see logits-chunk.ts). */
  headChunks(N: number): Array<{ start: number; rows: number }> {
    return logitsChunks(N, this.acts.logitsRows);
  }

  /** logits (rows, V) of tokens start .. start + rows (soft-capped: final_logit_softcapping), into the logits buffer, after recordForward. */
  recordHead(rec: Recorder, start: number, rows: number): void {
    const C = this.spec.hiddenSize;
    projForward(rec, this.acts.logits, rowRange(this.acts.nf, start, rows, C), this.lmHead, rows, C, this.spec.vocabSize);
    if (this.spec.finalLogitSoftcapping) softcapLogits(rec, this.acts.logits, rows, this.spec.vocabSize, this.spec.finalLogitSoftcapping);
  }

  /** Loss (into `loss`, by the objective) and LoRA gradients (accumulated into `grads`), after recordForward. */
  recordBackward(rec: Recorder, B: number, T: number, dropoutP: number, objective: HeadObjective): void {
    this.checkShape(B, T);
    const { spec, acts, weights } = this;
    const N = B * T;
    const C = spec.hiddenSize;
    const V = spec.vocabSize;
    const g = acts.grad;
    // Head, loss and head backward one chunk of tokens at a time: the chunk's logits become their
    // gradient in place, then dn gets that chunk's rows. The head backward has few output tiles
    // and a reduction over the vocabulary: it splits that reduction (split-K) through headPartials.
    objective.recordWeights(rec, B, T);
    for (const { start, rows } of this.headChunks(N)) {
      this.recordHead(rec, start, rows);
      const losses = rowRange(acts.losses, start, rows, 1);
      crossEntropyForwardBackward(rec, losses, acts.logits, rowRange(acts.targets, start, rows, 1), rowRange(objective.tokenWeights, start, rows, 1), rows, V, spec.finalLogitSoftcapping ?? 0);
      projBackwardInput(rec, rowRange(g.dn, start, rows, C), acts.logits, this.lmHead, rows, C, V, false, { partials: g.headPartials });
    }
    objective.recordLoss(rec, B, T);
    const xL = acts.layerInputs[spec.numLayers];
    rmsnormBackward(rec, g.dx, g.dn, xL, weights.norm, acts.rstdF, N, C, false);
    for (let l = spec.numLayers - 1; l >= 0; l--) {
      const ctx = this.context(l, B, T, dropoutP);
      if (this.options.checkpointing) {
        // Recompute this layer's activations from its saved input (same dropout seed → same masks).
        layerForward(rec, ctx, weights.layers[l], acts.layers[l], acts.layerInputs[l], acts.layerInputs[l + 1]);
      }
      layerBackward(rec, ctx, weights.layers[l], acts.layers[l], g, acts.layerInputs[l]);
    }
  }

  /** Each token's loss -log p(target) into `out` (default acts.losses; no gradients), after recordForward. */
  recordTokenLosses(rec: Recorder, B: number, T: number, out: GPUBuffer = this.acts.losses): void {
    const N = B * T;
    const { acts } = this;
    for (const { start, rows } of this.headChunks(N)) {
      this.recordHead(rec, start, rows);
      crossEntropyForward(rec, rowRange(out, start, rows, 1), acts.logits, rowRange(acts.targets, start, rows, 1), rows, this.spec.vocabSize);
    }
  }

  /** The logits buffer: one chunk (rows, V) as the last recordHead left it. */
  get logits(): Buf {
    return this.acts.logits;
  }

  private get lmHead(): LinearWeight {
    return { weight: this.weights.lmHead, bias: null };
  }

  destroy(): void {
    for (const b of [...this.acts.buffers, ...this.ownBuffers]) this.gpu.destroyBuffer(b);
  }
}
