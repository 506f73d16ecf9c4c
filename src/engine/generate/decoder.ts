// Incremental decoding on the GPU with a per-layer KV cache, for trying a model (and its LoRA
// adapter) on a prompt. It borrows the frozen weights (ModelWeightsGpu) and, with an adapter, the
// flat LoRA parameter buffer (lora/layout.ts) as they are: the trainer's own, no copy.
//
// Two programs are recorded once, both reading the cache position from a small storage buffer
// `state` = u32 [pos, count] written before each submit:
//   prefill  P = chunk rows (prompt tokens pos..pos+count-1, the tail padding), no LM head;
//   step     one row, then the final norm and the LM head into `logits` (V), read back.
// Each layer runs the training forward's own code (layerForwardWith, model/layer.ts) with the
// decoding ops: projections as matrix-vector products for one row (projLoraForward with gemv), and
// for attention RoPE at the row's position → append k,v to the cache → attention of the row over
// cache positions 0..pos. The residual stream stays in place (out = x).
import { GpuError } from '../../gpu/errors';
import type { Buf, Gpu, KernelProfile, Program, Recorder } from '../../gpu/gpu';
import { decodeAttention, decodeKvStore, decodeRope } from '../kernels/decode';
import { loraSplitScratchFloats, type LoraSplit } from '../kernels/lora';
import { rmsnormForward } from '../kernels/rmsnorm';
import { LayerRopeTables } from '../model/layer-rope';
import type { LoraLayout, LoraSite } from '../lora/layout';
import type { ModelWeightsGpu } from '../model/gpu-weights';
import { allocateLayerForwardBuffers, type LayerForwardBuffers } from '../model/activations';
import { layerForwardWith, projLoraForward, type LayerForwardOps } from '../model/layer';
import { embed, projForward, projGemv } from '../model/linear';
import { projectionShape, type ModelSpec, type Projection } from '../model/spec';
import { attentionScale, checkEngineSupports, embedScale, engineContextLimit, layerAttention, rotaryDim } from '../model/arch';
import { softcapLogits } from '../kernels/crossentropy';
import { ModelConfigError } from '../model/config';

/** An adapter to apply: the flat parameter buffer and its layout (the trainer's, borrowed). */
export interface DecoderLora {
  layout: LoraLayout;
  params: GPUBuffer;
}

export interface DecoderOptions {
  /** Cache length: the decoder holds positions 0..maxContext-1. */
  maxContext: number;
  /** Prompt tokens per prefill submit (default 32). */
  chunk?: number;
  /**
   * When the two programs' pipelines compile: 'ahead' (default), all at once in parallel when the
   * decoder is created (Gpu.prepare), so the first token does not wait on one compile after another;
   * 'first-use' at the first prefill and step, one by one (benchmarks compare the two).
   */
  compile?: 'ahead' | 'first-use';
}

/** The most tokens a decoder may hold (the engine's context limit: arch/features.ts, one sliding-window policy). */
export function decoderContextLimit(spec: ModelSpec): number {
  return engineContextLimit(spec).tokens;
}

export class Decoder {
  readonly maxContext: number;
  readonly chunk: number;
  private position = 0;
  private readonly owned: GPUBuffer[] = [];
  private readonly ids: GPUBuffer;
  private readonly state: GPUBuffer;
  private readonly logits: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly rope: LayerRopeTables;
  private readonly idWords: Uint32Array;
  private readonly stateWords = new Uint32Array(2);
  private readonly prefill: Program;
  private readonly step: Program;
  private destroyed = false;

  constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    private readonly weights: ModelWeightsGpu,
    private readonly lora: DecoderLora | null,
    options: DecoderOptions,
  ) {
    checkEngineSupports(spec, 'decoding', (msg) => new ModelConfigError(msg));
    const limit = engineContextLimit(spec);
    if (!(options.maxContext >= 1) || options.maxContext > limit.tokens) {
      throw new GpuError(`a context of ${options.maxContext} tokens is outside 1..${limit.tokens} (${limit.why})`);
    }
    this.maxContext = options.maxContext;
    this.chunk = Math.max(1, Math.min(options.chunk ?? 32, options.maxContext));
    const P = this.chunk;
    const C = spec.hiddenSize;
    const D = spec.headDim;
    const KV = spec.numKvHeads * D;
    const T = this.maxContext;
    const f = (floats: number, label: string): GPUBuffer => {
      const b = gpu.createBuffer(floats * 4, `decode.${label}`);
      this.owned.push(b);
      return b;
    };
    this.ids = f(P, 'ids');
    this.idWords = new Uint32Array(P);
    this.state = f(4, 'state');
    this.logits = f(spec.vocabSize, 'logits');
    this.staging = gpu.allocate({ size: Math.max(16, spec.vocabSize * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'decode.staging' });
    this.rope = new LayerRopeTables(gpu, spec, T, 'decode.rope');
    this.owned.push(...this.rope.buffers);
    const s: Scratch = {
      x: f(P * C, 'x'),
      // The training forward's own buffer set (activations.ts), for P rows.
      layer: allocateLayerForwardBuffers(f, spec, P, 'layer'),
      h: f(P * Math.max(lora?.layout.maxRank ?? 1, 1), 'loraH'),
      // Split-K scratch: one token's lora_down would otherwise be a single workgroup over In.
      loraSplit: lora ? { partials: f(Math.max(1, loraSplitScratchFloats(P, lora.layout.maxRank, lora.layout.sites.map((x) => projectionShape(spec, x.proj)))), 'loraPartials') } : undefined,
      seed: f(1, 'seed'),
      kc: Array.from({ length: spec.numLayers }, (_, l) => f(KV * T, `kc${l}`)),
      vc: Array.from({ length: spec.numLayers }, (_, l) => f(KV * T, `vc${l}`)),
      sites: Array.from({ length: spec.numLayers }, () => new Map<Projection, LoraSite>()),
    };
    if (lora) for (const site of lora.layout.sites) s.sites[site.layer].set(site.proj, site);
    let rec = gpu.recorder();
    this.record(rec, s, P, false);
    this.prefill = rec.finish();
    rec = gpu.recorder();
    this.record(rec, s, 1, true);
    this.step = rec.finish();
  }

  /** Builds a decoder, surfacing validation and out-of-memory errors of its setup as typed errors. */
  static async create(gpu: Gpu, spec: ModelSpec, weights: ModelWeightsGpu, lora: DecoderLora | null, options: DecoderOptions): Promise<Decoder> {
    const made: Decoder[] = [];
    try {
      return await gpu.checked(() => {
        made.push(new Decoder(gpu, spec, weights, lora, options));
        return made[0];
      }).then(async (d) => {
        if (options.compile !== 'first-use') await gpu.prepare([d.prefill, d.step]);
        return d;
      });
    } catch (e) {
      made[0]?.destroy();
      throw e;
    }
  }

  /** Whether this decoder reads these weights (a cached decoder is reused only for its own). */
  usesWeights(weights: ModelWeightsGpu): boolean {
    return this.weights === weights;
  }

  /** Whether this decoder applies this adapter (the same buffer and layout), or none for null. */
  usesLora(lora: DecoderLora | null): boolean {
    if (!lora || !this.lora) return lora === this.lora;
    return lora.params === this.lora.params && lora.layout === this.lora.layout;
  }

  /** Tokens in the cache (the position of the next token). */
  get length(): number {
    return this.position;
  }

  /**
   * GPU time per kernel of one decode step at the current position (timestamp queries; the cache
   * and the position are left as they are). Benchmarks.
   */
  profileStep(): Promise<KernelProfile> {
    return this.step.profile();
  }

  /** Empties the cache (a new prompt). */
  reset(): void {
    this.position = 0;
  }

  /**
   * Appends `tokens` to the cache (at least one) and returns the logits (V) that follow the last.
   * All but the last go through the prefill program, `chunk` tokens per submit.
   */
  async feed(tokens: ArrayLike<number>): Promise<Float32Array> {
    if (this.destroyed) throw new GpuError('this decoder was released');
    const n = tokens.length;
    const V = this.spec.vocabSize;
    if (n < 1) throw new GpuError('feed needs at least one token');
    if (this.position + n > this.maxContext) {
      throw new GpuError(`${this.position + n} tokens exceed the decoder's context of ${this.maxContext}`);
    }
    for (let i = 0; i < n; i++) {
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new GpuError(`token id ${id} is outside the vocabulary (${V})`);
    }
    const { gpu } = this;
    // This feed is one pass over positions 0..position + n − 1, as a transformers forward with the cache.
    this.rope.select(this.position + n);
    await gpu.checked(() => {
      let i = 0;
      while (n - i > 1) {
        const count = Math.min(this.chunk, n - 1 - i);
        for (let j = 0; j < count; j++) this.idWords[j] = tokens[i + j];
        gpu.write(this.ids, this.idWords.subarray(0, count));
        this.writeState(count);
        this.prefill.run();
        this.position += count;
        i += count;
      }
      this.idWords[0] = tokens[n - 1];
      gpu.write(this.ids, this.idWords.subarray(0, 1));
      this.writeState(1);
      gpu.assertAlive();
      const enc = gpu.device.createCommandEncoder();
      this.step.encode(enc);
      enc.copyBufferToBuffer(this.logits, 0, this.staging, 0, V * 4);
      gpu.device.queue.submit([enc.finish()]);
      this.position += 1;
    });
    try {
      await this.staging.mapAsync(GPUMapMode.READ, 0, V * 4);
    } catch (e) {
      gpu.assertAlive();
      throw new GpuError(`reading the logits back failed: ${(e as Error).message}`);
    }
    const out = new Float32Array(this.staging.getMappedRange(0, V * 4).slice(0));
    this.staging.unmap();
    return out;
  }

  private writeState(count: number): void {
    this.stateWords[0] = this.position;
    this.stateWords[1] = count;
    this.gpu.write(this.state, this.stateWords);
  }

  /** The decoding side of one layer's forward: N rows at the cache position state[0]. */
  private layerOps(rec: Recorder, s: Scratch, layer: number, N: number): LayerForwardOps {
    const { spec } = this;
    const D = spec.headDim;
    const T = this.maxContext;
    const w = this.weights.layers[layer];
    return {
      proj: (p, out, inp) => {
        const site = this.lora ? s.sites[layer].get(p) : undefined;
        const lora = site ? { site, params: this.lora!.params, h: s.h, dropout: { p: 0, seed: s.seed, site: site.site }, split: s.loraSplit } : null;
        projLoraForward(rec, spec, w, p, out, inp, N, lora, N === 1);
      },
      attend: (q, k, v, att) => {
        // A sliding layer's own RoPE base (Gemma 3) and window; Gemma 2's soft-capped scores.
        const { cos, sin } = this.rope.forLayer(layer);
        decodeRope(rec, q, cos, sin, this.state, N, spec.numHeads, D, T, rotaryDim(spec));
        decodeRope(rec, k, cos, sin, this.state, N, spec.numKvHeads, D, T, rotaryDim(spec));
        decodeKvStore(rec, s.kc[layer], s.vc[layer], k, v, this.state, N, spec.numKvHeads, D, T);
        const scores = { scale: attentionScale(spec), window: layerAttention(spec, layer).window ?? 0, softcap: spec.attnLogitSoftcapping ?? 0 };
        decodeAttention(rec, att, q, s.kc[layer], s.vc[layer], this.state, N, spec.numHeads, spec.numKvHeads, D, T, scores);
      },
    };
  }

  private record(rec: Recorder, s: Scratch, N: number, head: boolean): void {
    const { spec, weights } = this;
    const C = spec.hiddenSize;
    embed(rec, s.x, this.ids, weights.embed, N, C, embedScale(spec));
    for (let l = 0; l < spec.numLayers; l++) layerForwardWith(rec, spec, N, weights.layers[l], this.layerOps(rec, s, l, N), s.layer, s.x, s.x);
    if (!head) return;
    // The final norm into the layer set's n1 (free once the last layer has run).
    const { n1, rstd1 } = s.layer;
    rmsnormForward(rec, n1, rstd1, s.x, weights.norm, N, C, spec.rmsNormEps);
    const lmHead = { weight: weights.lmHead, bias: null };
    if (N === 1) projGemv(rec, this.logits, n1, lmHead, C, spec.vocabSize);
    else projForward(rec, this.logits, n1, lmHead, N, C, spec.vocabSize);
    if (spec.finalLogitSoftcapping) softcapLogits(rec, this.logits, 1, spec.vocabSize, spec.finalLogitSoftcapping);
  }

  /** GPU bytes this decoder allocated (cache, scratch, tables). */
  get bytes(): number {
    return this.owned.reduce((a, b) => a + b.size, 0);
  }

  /** Frees the decoder's own buffers; the borrowed weights and LoRA parameters are left alone. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.prefill.destroy();
    this.step.destroy();
    for (const b of this.owned) this.gpu.destroyBuffer(b);
    this.gpu.destroyBuffer(this.staging);
  }
}

interface Scratch {
  x: GPUBuffer;
  layer: LayerForwardBuffers;
  h: GPUBuffer;
  seed: GPUBuffer;
  kc: GPUBuffer[];
  vc: GPUBuffer[];
  sites: Map<Projection, LoraSite>[];
  loraSplit: LoraSplit | undefined;
}
