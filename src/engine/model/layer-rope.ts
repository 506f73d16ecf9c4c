// The RoPE tables every layer reads, on the GPU, for training (model.ts) and decoding
// (generate/decoder.ts) alike: the global set (rope_theta, rope_scaling, LongRoPE's short / long
// factors) and, where the spec has one, a second set for sliding layers (Gemma 3's
// rope_local_base_freq: arch layerAttention). Both rotate rotaryDim dims (partial rotary).
import type { Gpu } from '../../gpu/gpu';
import { RopeTablesGpu } from '../kernels/rope';
import { isSlidingLayer, rotaryDim } from './arch';
import type { ModelSpec } from './spec';

export class LayerRopeTables {
  private readonly global: RopeTablesGpu;
  private readonly local: RopeTablesGpu | null;

  /** Tables for positions 0..T−1; buffers labelled `${label}.cos` / `${label}.local.cos` etc. */
  constructor(
    gpu: Pick<Gpu, 'upload' | 'write'>,
    private readonly spec: ModelSpec,
    T: number,
    label: string,
  ) {
    this.global = new RopeTablesGpu(gpu, spec.rope, T, rotaryDim(spec), label);
    this.local = spec.ropeLocal ? new RopeTablesGpu(gpu, spec.ropeLocal, T, rotaryDim(spec), `${label}.local`) : null;
  }

  /** The tables of a layer: a sliding layer's own where the spec has them (as layerAttention's rope), else the global ones. */
  forLayer(layer: number): RopeTablesGpu {
    return this.local && isSlidingLayer(this.spec, layer) ? this.local : this.global;
  }

  /** Before a pass over a sequence of seqLen tokens (max position id + 1): LongRoPE's factors (RopeTablesGpu.select). */
  select(seqLen: number): void {
    this.global.select(seqLen);
    this.local?.select(seqLen);
  }

  /** Every buffer these tables own (to destroy). */
  get buffers(): GPUBuffer[] {
    return [this.global, ...(this.local ? [this.local] : [])].flatMap((t) => [t.cos, t.sin]);
  }
}
