// Activation and gradient buffers, sized once for the largest batch (maxTokens = maxB * maxT).
// Smaller batches use a prefix of each buffer: every layout is token-major.
import type { Gpu } from '../../gpu/gpu';
import type { LoraLayout } from '../lora/layout';
import { logitsChunkRows } from './logits-chunk';
import { loraSplitScratchFloats } from '../kernels/lora';
import { matmulSplitScratchFloats } from '../kernels/matmul';
import { projectionShape, type ModelSpec } from './spec';
import { archOf, layerNorms } from './arch';

/** The buffers one decoder layer's forward writes (layerForwardWith), for N token rows. */
export interface LayerForwardBuffers {
  n1: GPUBuffer; // (N, C) the input norm's output
  rstd1: GPUBuffer; // (N)
  qRaw: GPUBuffer | null; // (N, Hq*D) q_proj output before q_norm (qkNorm only)
  kRaw: GPUBuffer | null; // (N, Hkv*D)
  rstdQ: GPUBuffer | null; // (N*Hq)
  rstdK: GPUBuffer | null; // (N*Hkv)
  q: GPUBuffer; // (N, Hq*D) after norm and RoPE
  k: GPUBuffer; // (N, Hkv*D) after norm and RoPE
  v: GPUBuffer; // (N, Hkv*D)
  att: GPUBuffer; // (N, Hq*D) attention output, o_proj input
  oRaw: GPUBuffer | null; // (N, C) o_proj output before the post-attention norm (Gemma's sandwich norms)
  rstdPA: GPUBuffer | null; // (N)
  xMid: GPUBuffer; // (N, C) residual after attention
  n2: GPUBuffer; // (N, C) the pre-feedforward norm output
  rstd2: GPUBuffer; // (N)
  gate: GPUBuffer; // (N, I)
  up: GPUBuffer; // (N, I)
  act: GPUBuffer; // (N, I) act(gate)*up, down_proj input
  dRaw: GPUBuffer | null; // (N, C) down_proj output before the post-feedforward norm (Gemma)
  rstdPF: GPUBuffer | null; // (N)
  /**
   * (N, widest fused module) a fused projection's whole output (Phi-3's qkv_proj, gate_up_proj)
   * before its slices are copied out, and in backward its assembled gradient (layer.ts
   * projectRoles); null when the family fuses nothing. Dead between uses: training shares one.
   */
  fused: GPUBuffer | null;
}

/** What one decoder layer's forward keeps for its backward. */
export interface LayerActs extends LayerForwardBuffers {
  lse: GPUBuffer; // (B, Hq, T)
  /** LoRA down-projection outputs h = drop(x)·Aᵀ, (N, r), one per LoRA site of this layer. */
  h: Map<string, GPUBuffer>;
}

/** Output rows of the family's widest fused module (0 when it fuses none). */
export function fusedWidth(spec: ModelSpec): number {
  return archOf(spec)
    .linears.filter((l) => l.parts.length > 1)
    .reduce((m, l) => Math.max(m, projectionShape(spec, l.module)[0]), 0);
}

/**
 * Allocates LayerForwardBuffers for N rows with `f` (floats, label), labels prefixed by tag
 * (training and decoding alike); `fused`: a fused scratch to share (else one is allocated).
 */
export function allocateLayerForwardBuffers(
  f: (floats: number, label: string) => GPUBuffer,
  spec: ModelSpec,
  N: number,
  tag: string,
  fused?: GPUBuffer | null,
): LayerForwardBuffers {
  const C = spec.hiddenSize;
  const I = spec.intermediateSize;
  const Q = spec.numHeads * spec.headDim;
  const KV = spec.numKvHeads * spec.headDim;
  const sandwich = layerNorms(spec).some((n) => n.role === 'post_attention');
  return {
    n1: f(N * C, `${tag}.n1`),
    rstd1: f(N, `${tag}.rstd1`),
    qRaw: spec.qkNorm ? f(N * Q, `${tag}.qRaw`) : null,
    kRaw: spec.qkNorm ? f(N * KV, `${tag}.kRaw`) : null,
    rstdQ: spec.qkNorm ? f(N * spec.numHeads, `${tag}.rstdQ`) : null,
    rstdK: spec.qkNorm ? f(N * spec.numKvHeads, `${tag}.rstdK`) : null,
    q: f(N * Q, `${tag}.q`),
    k: f(N * KV, `${tag}.k`),
    v: f(N * KV, `${tag}.v`),
    att: f(N * Q, `${tag}.att`),
    oRaw: sandwich ? f(N * C, `${tag}.oRaw`) : null,
    rstdPA: sandwich ? f(N, `${tag}.rstdPA`) : null,
    xMid: f(N * C, `${tag}.xMid`),
    n2: f(N * C, `${tag}.n2`),
    rstd2: f(N, `${tag}.rstd2`),
    gate: f(N * I, `${tag}.gate`),
    up: f(N * I, `${tag}.up`),
    act: f(N * I, `${tag}.act`),
    dRaw: sandwich ? f(N * C, `${tag}.dRaw`) : null,
    rstdPF: sandwich ? f(N, `${tag}.rstdPF`) : null,
    fused: fused !== undefined ? fused : fusedWidth(spec) > 0 ? f(N * fusedWidth(spec), `${tag}.fused`) : null,
  };
}

/** Gradient scratch, shared by all layers (backward runs one layer at a time). */
export interface GradScratch {
  dx: GPUBuffer; // (N, C) gradient of the residual stream
  dn: GPUBuffer; // (N, C) gradient of a norm output
  dAct: GPUBuffer; // (N, I) d act
  dI1: GPUBuffer; // (N, I) d gate
  dI2: GPUBuffer; // (N, I) d up
  dAtt: GPUBuffer; // (N, Hq*D)
  dq: GPUBuffer; // (N, Hq*D)
  dk: GPUBuffer; // (N, Hkv*D)
  dv: GPUBuffer; // (N, Hkv*D)
  dqRaw: GPUBuffer | null; // (N, Hq*D)
  dkRaw: GPUBuffer | null; // (N, Hkv*D)
  dh: GPUBuffer; // (N, r)
  /** Split-K partial tiles of the LoRA kernels (loraSplitScratchFloats); the forward's lora_down uses it too. */
  loraPartials: GPUBuffer;
  /** Split-K partials of the LM-head backward (matmulSplitScratchFloats over a head chunk's rows). */
  headPartials: GPUBuffer;
}

export interface Activations {
  maxTokens: number;
  ids: GPUBuffer; // u32 (N)
  mask: GPUBuffer; // u32 (N)
  positions: GPUBuffer; // i32 (N) each token's position within its example (Batch.positions)
  targets: GPUBuffer; // i32 (N) labels shifted left by one, -100 ignored
  /** Residual stream at each layer input; index numLayers is the final hidden state (pre-norm). */
  layerInputs: GPUBuffer[];
  /** Per-layer saved activations; with checkpointing every entry is the same recompute buffer set. */
  layers: LayerActs[];
  nf: GPUBuffer; // (N, C) final norm output
  rstdF: GPUBuffer; // (N)
  /** Rows per LM-head chunk; the logits buffer holds one chunk. */
  logitsRows: number;
  logits: GPUBuffer; // (logitsRows, V), overwritten with dlogits by the loss
  losses: GPUBuffer; // (N)
  grad: GradScratch;
  buffers: GPUBuffer[];
}

export function allocateActivations(
  /** Only createBuffer is used: the memory estimate (engine/train/memory.ts) passes a counter. */
  gpu: Pick<Gpu, 'createBuffer'>,
  spec: ModelSpec,
  layout: LoraLayout,
  maxB: number,
  maxT: number,
  checkpointing: boolean,
  /** Rows of logits held at once (logits-chunk.ts); all N unless the head runs in chunks. */
  logitsRows = logitsChunkRows(maxB * maxT, spec.vocabSize),
): Activations {
  const N = maxB * maxT;
  const C = spec.hiddenSize;
  const I = spec.intermediateSize;
  const Q = spec.numHeads * spec.headDim;
  const KV = spec.numKvHeads * spec.headDim;
  const buffers: GPUBuffer[] = [];
  const f = (floats: number, label: string): GPUBuffer => {
    const b = gpu.createBuffer(floats * 4, label);
    buffers.push(b);
    return b;
  };
  // One fused-projection scratch for every layer, forward and backward (dead between uses).
  const fused = fusedWidth(spec) > 0 ? f(N * fusedWidth(spec), 'fused') : null;
  // One split-K scratch for every LoRA call (they run one after another, forward and backward).
  const loraPartials = f(loraSplitScratchFloats(N, layout.maxRank, layout.sites.map((s) => projectionShape(spec, s.proj))), 'loraPartials');
  // layer null: the shared recompute set, with an h buffer for every projection any layer targets.
  const makeLayer = (tag: string, layer: number | null): LayerActs => {
    // h of a projection holds (N, r) floats; the shared set takes the largest r of that projection.
    const rank = new Map<string, number>();
    for (const s of layout.sites) {
      if (layer === null || s.layer === layer) rank.set(s.proj, Math.max(rank.get(s.proj) ?? 0, s.r));
    }
    const h = new Map<string, GPUBuffer>();
    for (const [proj, r] of rank) h.set(proj, f(N * r, `${tag}.h.${proj}`));
    return { ...allocateLayerForwardBuffers(f, spec, N, tag, fused), lse: f(N * spec.numHeads, `${tag}.lse`), h };
  };
  // With checkpointing one set is recomputed per layer in backward; LoRA h buffers are per site,
  // so the shared set carries the union of every layer's sites keyed by projection.
  let layers: LayerActs[];
  if (checkpointing) {
    const shared = makeLayer('recompute', null);
    layers = Array.from({ length: spec.numLayers }, () => shared);
  } else {
    layers = Array.from({ length: spec.numLayers }, (_, l) => makeLayer(`layer${l}`, l));
  }
  return {
    maxTokens: N,
    ids: f(N, 'ids'),
    mask: f(N, 'mask'),
    positions: f(N, 'positions'),
    targets: f(N, 'targets'),
    layerInputs: Array.from({ length: spec.numLayers + 1 }, (_, l) => f(N * C, `x${l}`)),
    layers,
    nf: f(N * C, 'nf'),
    rstdF: f(N, 'rstdF'),
    logitsRows,
    logits: f(Math.min(N, logitsRows) * spec.vocabSize, 'logits'),
    losses: f(N, 'losses'),
    grad: {
      dx: f(N * C, 'dx'),
      dn: f(N * C, 'dn'),
      dAct: f(N * I, 'dAct'),
      dI1: f(N * I, 'dI1'),
      dI2: f(N * I, 'dI2'),
      dAtt: f(N * Q, 'dAtt'),
      dq: f(N * Q, 'dq'),
      dk: f(N * KV, 'dk'),
      dv: f(N * KV, 'dv'),
      dqRaw: spec.qkNorm ? f(N * Q, 'dqRaw') : null,
      dkRaw: spec.qkNorm ? f(N * KV, 'dkRaw') : null,
      dh: f(N * layout.maxRank, 'dh'),
      loraPartials,
      // dn (rows, C) = dlogits (rows, V)·W (V, C) of one head chunk at a time.
      headPartials: f(matmulSplitScratchFloats(Math.min(N, logitsRows), C, spec.vocabSize), 'headPartials'),
    },
    buffers,
  };
}
