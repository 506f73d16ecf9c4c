// One decoder layer (transformers' LlamaDecoderLayer / Qwen2 / Qwen3 / Gemma2 / Gemma3), forward
// and backward side by side. Shapes: N = B*T tokens, C hidden, Q = Hq*D, KV = Hkv*D, I
// intermediate. The forward (layerForwardWith) serves training and decoding (generate/decoder.ts)
// alike: they differ only in how projections and attention run (LayerForwardOps).
//
//   n1 = rmsnorm(x)                         xMid = x + [rmsnorm_pa](o_proj(att))
//   q,k,v = proj(n1) (+LoRA; Phi-3: qkv_proj, n2 = rmsnorm(xMid)
//           one fused module, sliced)       gate|up = proj(n2) (Phi-3: gate_up_proj, sliced)
//   [q,k = per-head rmsnorm (Qwen3, Gemma3)] act = act_fn(gate) * up   (SiLU, or Gemma's GeLU-tanh)
//   q,k = rope(q,k) (Phi-3: partial rotary)  out = xMid + [rmsnorm_pf](down(act))
//   att = causal_gqa_attention(q,k,v)       [ ]: Gemma's post_attention / post_feedforward norms
//   (Gemma: scale query_pre_attn_scalar^-0.5, sliding-window layers, soft-capped scores; its norms
//   compute x·(1 + w) from weights uploaded as 1 + w, gpu-weights.ts)
import type { Buf, Recorder } from '../../gpu/gpu';
import { addInplace } from '../kernels/add';
import { columnsJoin, columnsSplit } from '../kernels/columns';
import { decodeGemv } from '../kernels/decode';
import { attentionBackward, attentionForward, type AttentionShape, type AttentionTensors } from '../kernels/attention';
import { loraDown, loraGradA, loraGradB, loraGradH, loraGradInput, loraUp, type LoraDropout, type LoraSplit } from '../kernels/lora';
import { rmsnormBackward, rmsnormForward } from '../kernels/rmsnorm';
import { ropeBackward, ropeForward, type RopeInputs } from '../kernels/rope';
import { swigluBackward, swigluForward } from '../kernels/swiglu';
import { attentionScale, hiddenAct, layerAttention } from './arch';
import type { LoraLayout, LoraSite } from '../lora/layout';
import { siteViews } from '../lora/layout';
import type { GradScratch, LayerActs, LayerForwardBuffers } from './activations';
import { linearWeight, type LayerWeightsGpu } from './gpu-weights';
import { projBackwardInput, projForward, projGemv } from './linear';
import { projectionShape, type ModelSpec, type Projection } from './spec';
import { archOf, projectionSlices, rotaryDim } from './arch';
import type { ProjectionRole } from './arch/types';

/** Everything a layer's record functions need besides its own weights and activations. */
export interface LayerContext {
  spec: ModelSpec;
  /** This layer's index (its attention window: arch layerAttention). */
  layer: number;
  B: number;
  T: number;
  mask: Buf;
  /** i32 (B*T): each token's position within its example (RoPE angle, attention's key range). */
  positions: Buf;
  /** This layer's RoPE tables (a sliding layer's own base on Gemma 3). */
  ropeCos: Buf;
  ropeSin: Buf;
  lora: LoraLayout;
  /** LoRA sites of this layer by projection. */
  sites: Map<Projection, LoraSite>;
  params: GPUBuffer;
  grads: GPUBuffer;
  /** u32 [seed] for dropout masks; dropout probability (0 = off, e.g. eval). */
  dropoutSeed: Buf;
  dropoutP: number;
  /** Split-K scratch of the skinny LoRA products: dead between calls (each reduce consumes it). */
  loraSplit: LoraSplit;
}

/** Tokens N = B·T and the model's widths. */
function layerDims(ctx: LayerContext): { N: number; C: number; D: number; Hq: number; Hkv: number; I: number } {
  const { spec } = ctx;
  return { N: ctx.B * ctx.T, C: spec.hiddenSize, D: spec.headDim, Hq: spec.numHeads, Hkv: spec.numKvHeads, I: spec.intermediateSize };
}

function attentionShape(ctx: LayerContext): AttentionShape {
  const { spec } = ctx;
  return {
    B: ctx.B,
    T: ctx.T,
    Hq: spec.numHeads,
    Hkv: spec.numKvHeads,
    D: spec.headDim,
    scale: attentionScale(spec),
    window: layerAttention(spec, ctx.layer).window ?? 0,
    softcap: spec.attnLogitSoftcapping ?? 0,
  };
}

function attentionTensors(ctx: LayerContext, acts: LayerActs): AttentionTensors<Buf, Buf> {
  return { out: acts.att, lse: acts.lse, q: acts.q, k: acts.k, v: acts.v, mask: ctx.mask, positions: ctx.positions };
}

/** RoPE's inputs for x (q or k, or their gradients in backward). */
function ropeInputs(ctx: LayerContext, x: Buf): RopeInputs<Buf, Buf> {
  return { x, cos: ctx.ropeCos, sin: ctx.ropeSin, positions: ctx.positions };
}

function dropoutFor(ctx: LayerContext, s: LoraSite): LoraDropout {
  return { p: ctx.dropoutP, seed: ctx.dropoutSeed, site: s.site };
}

/** A LoRA site as a projection's forward applies it. */
export interface SiteForward {
  site: LoraSite;
  /** The flat LoRA parameters the site's A and B are views of. */
  params: GPUBuffer;
  /** (N, r): receives h = drop(inp)·Aᵀ (kept for backward in training). */
  h: Buf;
  dropout: LoraDropout;
  split?: LoraSplit;
}

/**
 * out (N,Out) = inp·Wᵀ (+b) (+ scale·(drop(inp)·Aᵀ)·Bᵀ with a site). gemv: one token row
 * (decoding), through matrix-vector products instead of tiles.
 */
export function projLoraForward(
  rec: Recorder,
  spec: ModelSpec,
  w: LayerWeightsGpu,
  p: Projection,
  out: Buf,
  inp: Buf,
  N: number,
  lora: SiteForward | null,
  gemv: boolean,
): void {
  const [Out, In] = projectionShape(spec, p);
  if (gemv) projGemv(rec, out, inp, linearWeight(w, p), In, Out);
  else projForward(rec, out, inp, linearWeight(w, p), N, In, Out);
  if (!lora) return;
  const { site, h } = lora;
  const { A, B } = siteViews(lora.params, site);
  // One row: h = A·x is a matrix-vector product over the r rows of A (no dropout when decoding).
  if (gemv) decodeGemv(rec, h, inp, A, null, 1, In, site.r);
  else loraDown(rec, h, inp, A, N, In, site.r, lora.dropout, lora.split);
  loraUp(rec, out, h, B, N, Out, site.r, site.scale);
}

/** out = inp·Wᵀ (+b) + scale·(drop(inp)·Aᵀ)·Bᵀ; h saved for backward. */
function projWithLoraForward(rec: Recorder, ctx: LayerContext, w: LayerWeightsGpu, acts: LayerActs, p: Projection, out: Buf, inp: Buf): void {
  const s = ctx.sites.get(p);
  const lora = s ? { site: s, params: ctx.params, h: acts.h.get(p)!, dropout: dropoutFor(ctx, s), split: ctx.loraSplit } : null;
  projLoraForward(rec, ctx.spec, w, p, out, inp, ctx.B * ctx.T, lora, false);
}

/** dinp (=, or += when accumulate) from dout; dA and dB accumulated into the flat gradients. */
function projWithLoraBackward(
  rec: Recorder,
  ctx: LayerContext,
  w: LayerWeightsGpu,
  acts: LayerActs,
  g: GradScratch,
  p: Projection,
  dinp: Buf,
  dout: Buf,
  inp: Buf,
  accumulate: boolean,
): void {
  const N = ctx.B * ctx.T;
  const [Out, In] = projectionShape(ctx.spec, p);
  projBackwardInput(rec, dinp, dout, linearWeight(w, p), N, In, Out, accumulate);
  const s = ctx.sites.get(p);
  if (!s) return;
  const { r, scale } = s;
  const { A, B } = siteViews(ctx.params, s);
  const grads = siteViews(ctx.grads, s);
  const h = acts.h.get(p)!;
  const split = ctx.loraSplit;
  loraGradB(rec, grads.B, dout, h, N, Out, r, scale, true, split);
  loraGradH(rec, g.dh, dout, B, N, Out, r, scale, split);
  loraGradA(rec, grads.A, g.dh, inp, N, In, r, dropoutFor(ctx, s), true, split);
  loraGradInput(rec, dinp, g.dh, A, N, In, r, dropoutFor(ctx, s));
}

/** Buffers by the role of the rows a projection writes (q, k, v, gate, up). */
type RoleBuffers = Partial<Record<ProjectionRole, Buf>>;

/** The family's linear modules whose every part has a buffer in `outs`, with their fused width. */
function modulesFor(spec: ModelSpec, outs: RoleBuffers): Array<{ module: Projection; fusedWidth: number | null }> {
  return archOf(spec)
    .linears.filter((l) => l.parts.every((role) => outs[role] !== undefined))
    .map((l) => ({ module: l.module, fusedWidth: l.parts.length > 1 ? projectionShape(spec, l.module)[0] : null }));
}

/**
 * The projections of one input into the roles' buffers. An unfused module writes its role's
 * buffer. A fused module (Phi-3's qkv_proj = [q | k | v], gate_up_proj = [gate | up] rows of one
 * weight) runs as PEFT runs it: ONE GEMM (one weight read, the widest output tile grid) and ONE
 * LoRA pair over the whole fused output, into the preallocated fused scratch (N, W); its slices
 * are then copied to the roles' buffers (columns_split), because every consumer (q/k norms, RoPE,
 * attention, the KV cache, SwiGLU) reads a contiguous (N, w) tensor. The copy moves the output
 * once more, small next to the GEMM; the scratch is dead once the slices are out, so one buffer
 * serves every layer and the backward (projectRolesBackward).
 */
function projectRoles(rec: Recorder, spec: ModelSpec, N: number, ops: LayerForwardOps, fused: Buf | null, inp: Buf, outs: RoleBuffers): void {
  for (const { module, fusedWidth } of modulesFor(spec, outs)) {
    if (fusedWidth === null) {
      ops.proj(module, outs[projectionSlices(spec, module)[0].role]!, inp);
      continue;
    }
    if (!fused) throw new Error(`${module}: no fused scratch buffer`);
    ops.proj(module, fused, inp);
    for (const s of projectionSlices(spec, module)) columnsSplit(rec, outs[s.role]!, fused, N, fusedWidth, s.rows, s.offset);
  }
}

/**
 * The gradient of projectRoles: dinp (=) the sum over the modules of d(out)·W (+ LoRA), LoRA
 * gradients accumulated. A fused module's output gradient is assembled from its roles' gradients
 * into the fused scratch (columns_join), then ONE backward GEMM and ONE LoRA backward run over it.
 */
function projectRolesBackward(rec: Recorder, ctx: LayerContext, w: LayerWeightsGpu, acts: LayerActs, g: GradScratch, dinp: Buf, inp: Buf, douts: RoleBuffers): void {
  const N = ctx.B * ctx.T;
  modulesFor(ctx.spec, douts).forEach(({ module, fusedWidth }, i) => {
    let dout: Buf;
    if (fusedWidth === null) dout = douts[projectionSlices(ctx.spec, module)[0].role]!;
    else {
      if (!acts.fused) throw new Error(`${module}: no fused scratch buffer`);
      dout = acts.fused;
      for (const s of projectionSlices(ctx.spec, module)) columnsJoin(rec, dout, douts[s.role]!, N, fusedWidth, s.rows, s.offset);
    }
    projWithLoraBackward(rec, ctx, w, acts, g, module, dinp, dout, inp, i > 0);
  });
}

/** What differs between a training forward and a decoding step: the projections and the attention. */
export interface LayerForwardOps {
  /** out = inp·Wᵀ (+b) (+ LoRA) for projection p. */
  proj(p: Projection, out: Buf, inp: Buf): void;
  /** RoPE on q and k (in place), then att = causal attention of q over k, v (and the KV cache). */
  attend(q: Buf, k: Buf, v: Buf, att: Buf): void;
}

/**
 * The decoder layer's forward, for training and decoding alike: x (N,C) → out (N,C). x is last
 * read by the first residual add, so out may be x (decoding keeps the residual stream in place).
 */
export function layerForwardWith(rec: Recorder, spec: ModelSpec, N: number, w: LayerWeightsGpu, ops: LayerForwardOps, a: LayerForwardBuffers, x: Buf, out: Buf): void {
  const C = spec.hiddenSize;
  const eps = spec.rmsNormEps;
  rmsnormForward(rec, a.n1, a.rstd1, x, w.inputNorm, N, C, eps);
  if (spec.qkNorm) {
    projectRoles(rec, spec, N, ops, a.fused, a.n1, { q: a.qRaw!, k: a.kRaw!, v: a.v });
    rmsnormForward(rec, a.q, a.rstdQ!, a.qRaw!, w.qNorm!, N * spec.numHeads, spec.headDim, eps);
    rmsnormForward(rec, a.k, a.rstdK!, a.kRaw!, w.kNorm!, N * spec.numKvHeads, spec.headDim, eps);
  } else {
    projectRoles(rec, spec, N, ops, a.fused, a.n1, { q: a.q, k: a.k, v: a.v });
  }
  ops.attend(a.q, a.k, a.v, a.att);

  // xMid = x + o_proj(att) (normed first with Gemma's post_attention norm): write it into xMid, then add the residual.
  if (w.postAttnNorm) {
    ops.proj('o_proj', a.oRaw!, a.att);
    rmsnormForward(rec, a.xMid, a.rstdPA!, a.oRaw!, w.postAttnNorm, N, C, eps);
  } else {
    ops.proj('o_proj', a.xMid, a.att);
  }
  addInplace(rec, a.xMid, x, N * C);

  rmsnormForward(rec, a.n2, a.rstd2, a.xMid, w.preFfnNorm, N, C, eps);
  projectRoles(rec, spec, N, ops, a.fused, a.n2, { gate: a.gate, up: a.up });
  swigluForward(rec, a.act, a.gate, a.up, N * spec.intermediateSize, hiddenAct(spec));
  if (w.postFfnNorm) {
    ops.proj('down_proj', a.dRaw!, a.act);
    rmsnormForward(rec, out, a.rstdPF!, a.dRaw!, w.postFfnNorm, N, C, eps);
  } else {
    ops.proj('down_proj', out, a.act);
  }
  addInplace(rec, out, a.xMid, N * C);
}

/** x (N,C) → out (N,C). x and out are distinct buffers; x is kept for backward. */
export function layerForward(rec: Recorder, ctx: LayerContext, w: LayerWeightsGpu, acts: LayerActs, x: Buf, out: Buf): void {
  const { spec, B, T } = ctx;
  const { N, D, Hq, Hkv } = layerDims(ctx);
  const ops: LayerForwardOps = {
    proj: (p, o, inp) => projWithLoraForward(rec, ctx, w, acts, p, o, inp),
    attend: (q, k) => {
      ropeForward(rec, ropeInputs(ctx, q), B, T, Hq, D, rotaryDim(spec));
      ropeForward(rec, ropeInputs(ctx, k), B, T, Hkv, D, rotaryDim(spec));
      attentionForward(rec, attentionTensors(ctx, acts), attentionShape(ctx));
    },
  };
  layerForwardWith(rec, spec, N, w, ops, acts, x, out);
}

/**
 * Backward through one layer. On entry g.dx holds d(out); on exit it holds d(x).
 * x is the layer input the forward saw; acts must hold that forward's activations.
 */
export function layerBackward(rec: Recorder, ctx: LayerContext, w: LayerWeightsGpu, acts: LayerActs, g: GradScratch, x: Buf): void {
  const { spec, B, T } = ctx;
  const { N, C, D, Hq, Hkv, I } = layerDims(ctx);

  // MLP branch: out = xMid + [norm_pf](down(act)); d xMid gets g.dx directly (residual) plus the norm path.
  let dDown: Buf = g.dx;
  if (w.postFfnNorm) {
    rmsnormBackward(rec, g.dn, g.dx, acts.dRaw!, w.postFfnNorm, acts.rstdPF!, N, C, false);
    dDown = g.dn;
  }
  projWithLoraBackward(rec, ctx, w, acts, g, 'down_proj', g.dAct, dDown, acts.act, false);
  swigluBackward(rec, g.dI1, g.dI2, g.dAct, acts.gate, acts.up, N * I, hiddenAct(spec));
  projectRolesBackward(rec, ctx, w, acts, g, g.dn, acts.n2, { gate: g.dI1, up: g.dI2 });
  rmsnormBackward(rec, g.dx, g.dn, acts.xMid, w.preFfnNorm, acts.rstd2, N, C, true);

  // Attention branch: xMid = x + [norm_pa](o_proj(att)).
  let dO: Buf = g.dx;
  if (w.postAttnNorm) {
    rmsnormBackward(rec, g.dn, g.dx, acts.oRaw!, w.postAttnNorm, acts.rstdPA!, N, C, false);
    dO = g.dn;
  }
  projWithLoraBackward(rec, ctx, w, acts, g, 'o_proj', g.dAtt, dO, acts.att, false);
  attentionBackward(rec, { dq: g.dq, dk: g.dk, dv: g.dv, dout: g.dAtt }, attentionTensors(ctx, acts), attentionShape(ctx));
  ropeBackward(rec, ropeInputs(ctx, g.dq), B, T, Hq, D, rotaryDim(spec));
  ropeBackward(rec, ropeInputs(ctx, g.dk), B, T, Hkv, D, rotaryDim(spec));
  let dqProj: Buf = g.dq;
  let dkProj: Buf = g.dk;
  if (spec.qkNorm) {
    rmsnormBackward(rec, g.dqRaw!, g.dq, acts.qRaw!, w.qNorm!, acts.rstdQ!, N * Hq, D, false);
    rmsnormBackward(rec, g.dkRaw!, g.dk, acts.kRaw!, w.kNorm!, acts.rstdK!, N * Hkv, D, false);
    dqProj = g.dqRaw!;
    dkProj = g.dkRaw!;
  }
  projectRolesBackward(rec, ctx, w, acts, g, g.dn, acts.n1, { q: dqProj, k: dkProj, v: g.dv });
  rmsnormBackward(rec, g.dx, g.dn, x, w.inputNorm, acts.rstd1, N, C, true);
}
