// The decoder as an ONNX graph with the interface Transformers.js feeds a causal LM:
//   inputs  input_ids, position_ids [batch, seq] int64, attention_mask [batch, past+seq] int64,
//           past_key_values.{i}.key/value [batch, kv_heads, past, head_dim] f32
//   outputs logits [batch, seq, vocab], present.{i}.key/value [batch, kv_heads, past+seq, head_dim]
// One graph serves the prompt (past = 0) and every new token. position_ids count from
// positionIdBase(spec) (Transformers.js feeds Gemma 3 1-indexed positions); the graph subtracts it.
//
// It computes each family of the architecture table exactly as transformers does: RMSNorm (x·w,
// or Gemma's x·(1 + w), the 1 + w written into the initializer), q/k/v from separate or fused
// (Phi-3 qkv_proj: one module whose output is split) projections with their biases, per-head q/k
// RMSNorm, RoPE from the engine's own tables (every rope_type it trains, transformers'
// rotate_half convention) over the rotated part of each head (partial_rotary_factor), per layer
// (Gemma 3's sliding layers: rope_local_base_freq), LongRoPE's short / long factors picked by the
// sequence length as transformers picks them, grouped-query causal attention scaled by
// query_pre_attn_scalar^-0.5 or head_dim^-0.5, soft-capped (Gemma 2), windowed on sliding layers,
// Gemma's sandwich norms, SiLU- or GeLU-tanh-gated MLP (fused gate_up_proj split), embeddings ×
// sqrt(hidden) (Gemma), tied or separate LM head, final logit soft-capping. Base weights: f32 with
// the LoRA merged (over a fused module's whole output), or the studio's int8/int4 blocks as
// com.microsoft MatMulNBits (no requantization) with the LoRA as its own low-rank branch. Only
// standard ai.onnx ops (opset 17) and com.microsoft MatMulNBits / GatherBlockQuantized, which
// onnxruntime-web runs on wasm and WebGPU.
import { ropeTables } from '../../engine/kernels/rope';
import type { ModelSpec, Projection, RopeConfig } from '../../engine/model/spec';
import {
  archOf,
  attentionScale,
  embedScale,
  EVERY_FEATURE,
  hiddenAct,
  layerAttention,
  layerNormName,
  modelTensorNames,
  projectionHasBias,
  projectionSlices,
  projectionWeightName,
  refuseUnsupported,
  requiredNormName,
  rotaryDim,
  type ArchFeature,
  type ModelFamily,
  type ProjectionRole,
} from '../../engine/model/arch';
import { blocksPerRow, QUANT_BLOCK, qBytes, scaleBytes, type QuantKind, type QuantizedTensor } from '../../quant/format';
import { mergeLora, quantizeTensor, type ExportSource } from '../source';
import { DT, GraphBuilder } from './graph';

export type OnnxQuant = 'none' | QuantKind;

export const OPSET = 17;
/** INT4 initializers need IR version 10. */
export const IR_VERSION = 10;

export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

const bytesOf = (a: Float32Array | Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * The features of the architecture table (arch/features.ts) this graph computes (all of them:
 * EVERY_FEATURE, as the engine); a model with any other is refused naming it. The sliding window
 * is computed exactly (each sliding layer's mask hides keys more than window - 1 positions back).
 */
export const ONNX_FEATURES: readonly ArchFeature[] = EVERY_FEATURE;

/**
 * The first position id Transformers.js feeds a model type: 1 for gemma3_text (its
 * decoder_forward counts Gemma 3's positions from 1, as transformers' multimodal Gemma 3 once
 * did), else 0. The graph subtracts it, so it computes transformers' Gemma3ForCausalLM (0-based).
 */
export function positionIdBase(modelType: ModelFamily): number {
  return modelType === 'gemma3_text' ? 1 : 0;
}

/** Positions the RoPE tables cover: the model's context (dynamic RoPE: within it only, as the engine). */
export function ropePositions(spec: ModelSpec): number {
  const p = spec.maxPositionEmbeddings;
  return spec.rope.type === 'dynamic' ? Math.min(p, spec.rope.originalMaxPositionEmbeddings) : p;
}

/**
 * Builds the graph. Initializers read the source lazily, one tensor at a time, when written.
 */
export function buildDecoderGraph(src: ExportSource, quant: OnnxQuant): GraphBuilder {
  const spec = src.spec;
  refuseUnsupported(spec, 'the ONNX exporter', ONNX_FEATURES, (msg) => new OnnxExportError(`${src.name}: ${msg}`));
  const g = new GraphBuilder();
  const entry = archOf(spec);
  const { hiddenSize: C, numHeads: H, numKvHeads: KV, headDim: D, vocabSize: V } = spec;
  if (H % KV !== 0) throw new OnnxExportError(`${src.name}: num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);
  const G = H / KV;
  const R = rotaryDim(spec);

  // ---- inputs
  const inputIds = g.input({ name: 'input_ids', elemType: DT.INT64, shape: ['batch_size', 'sequence_length'] });
  const attnMask = g.input({ name: 'attention_mask', elemType: DT.INT64, shape: ['batch_size', 'total_sequence_length'] });
  const positionInput = g.input({ name: 'position_ids', elemType: DT.INT64, shape: ['batch_size', 'sequence_length'] });
  const base = positionIdBase(spec.modelType);
  const positionIds = base === 0 ? positionInput : g.op('Sub', [positionInput, g.constI64([base], [])]);
  const past: Array<{ key: string; value: string }> = [];
  for (let i = 0; i < spec.numLayers; i++) {
    const shape = ['batch_size', KV, 'past_sequence_length', D];
    past.push({
      key: g.input({ name: `past_key_values.${i}.key`, elemType: DT.FLOAT, shape }),
      value: g.input({ name: `past_key_values.${i}.value`, elemType: DT.FLOAT, shape }),
    });
  }

  // ---- shapes and the attention mask, shared by every layer
  const shapeBS = g.op('Shape', [inputIds]);
  const shapeBSHD = g.op('Concat', [shapeBS, g.constI64([H, D])], { axis: 0 });
  const shapeLogits = g.op('Concat', [shapeBS, g.constI64([V])], { axis: 0 });
  const seqLen = g.op('Shape', [inputIds], { start: 1, end: 2 });
  const totalLen = g.op('Shape', [attnMask], { start: 1, end: 2 });
  const pastLen = g.op('Sub', [totalLen, seqLen]);
  const scalar = (v: string): string => g.op('Squeeze', [v, g.constI64([0])]);
  const zero = g.constI64([0], []);
  const one = g.constI64([1], []);
  const keyIdx = g.op('Unsqueeze', [g.op('Range', [zero, scalar(totalLen), one]), g.constI64([0])]); // [1, T]
  const queryIdx = g.op('Unsqueeze', [g.op('Add', [g.op('Range', [zero, scalar(seqLen), one]), scalar(pastLen)]), g.constI64([1])]); // [S, 1]
  const causal = g.op('Greater', [keyIdx, queryIdx]); // [S, T]: key after query
  const padded = g.op('Unsqueeze', [g.op('Equal', [attnMask, g.constI64([0], [])]), g.constI64([1, 2, 3])]); // [B, 1, 1, 1, T]
  const masked = g.op('Or', [padded, causal]); // [B, 1, 1, S, T]
  // Sliding layers also hide keys at or before query - window (query t sees t-W+1..t).
  const windowMasks = new Map<number, string>();
  const maskOf = (layer: number): string => {
    const w = layerAttention(spec, layer).window;
    if (w === null) return masked;
    let m = windowMasks.get(w);
    if (!m) {
      const far = g.op('LessOrEqual', [keyIdx, g.op('Sub', [queryIdx, g.constI64([w], [])])]); // [S, T]
      m = g.op('Or', [masked, far]);
      windowMasks.set(w, m);
    }
    return m;
  };
  const maskValue = g.constF32([-3.4028234663852886e38], []);
  const attnScale = g.constF32([attentionScale(spec)], []);

  // ---- RoPE tables (the engine's): [positions, R/2] per RoPE the layers use, gathered by position_ids
  const P = ropePositions(spec);
  const ropeInputs = new Map<RopeConfig, { cos: string; sin: string }>();
  /** seqLen: the sequence length LongRoPE picks its factors by (ropeTables; no effect on other types). */
  const tableInit = (rope: RopeConfig, name: string, seqLen = P): { cos: string; sin: string } => {
    let tables: { cos: Float32Array; sin: Float32Array } | null = null;
    const table = (which: 'cos' | 'sin'): Uint8Array => {
      tables ??= ropeTables(rope, P, R, seqLen);
      const t = tables[which];
      if (which === 'sin') tables = null; // written cos then sin: drop them after
      return bytesOf(t);
    };
    const init = (which: 'cos' | 'sin'): string =>
      g.initializer({ name: `${name}.${which}`, dataType: DT.FLOAT, dims: [P, R / 2], byteLength: P * (R / 2) * 4, produce: () => table(which) });
    const cosT = init('cos');
    const sinT = init('sin');
    const gather = (t: string): string => g.op('Unsqueeze', [g.op('Gather', [t, positionIds]), g.constI64([1])]); // [B, 1, S, R/2]
    return { cos: gather(cosT), sin: gather(sinT) };
  };
  const ropeOf = (rope: RopeConfig): { cos: string; sin: string } => {
    let r = ropeInputs.get(rope);
    if (r) return r;
    const name = rope === spec.rope ? 'rope' : `rope_${ropeInputs.size}`;
    if (rope.type === 'longrope') {
      // transformers picks the long factors when the sequence (max position + 1) passes original_max_position_embeddings.
      // Both sets from the engine's tables: those of the longest sequence within it and of one token past it.
      const short = tableInit(rope, `${name}.short`, rope.originalMaxPositionEmbeddings);
      const long = tableInit(rope, `${name}.long`, rope.originalMaxPositionEmbeddings + 1);
      const useLong = g.op('Greater', [g.op('ReduceMax', [positionIds], { keepdims: 0 }), g.constI64([rope.originalMaxPositionEmbeddings - 1], [])]);
      r = { cos: g.op('Where', [useLong, long.cos, short.cos]), sin: g.op('Where', [useLong, long.sin, short.sin]) };
    } else {
      r = tableInit(rope, name);
    }
    ropeInputs.set(rope, r);
    return r;
  };
  const halves = g.constI64([R / 2, R / 2]);
  const rope = (x: string, layer: number): string => {
    const { cos, sin } = ropeOf(layerAttention(spec, layer).rope);
    const [rot, pass] = R === D ? [x, null] : g.opN('Split', [x, g.constI64([R, D - R])], 2, { axis: -1 });
    const [a, e] = g.opN('Split', [rot, halves], 2, { axis: -1 });
    const lo = g.op('Sub', [g.op('Mul', [a, cos]), g.op('Mul', [e, sin])]);
    const hi = g.op('Add', [g.op('Mul', [e, cos]), g.op('Mul', [a, sin])]);
    return g.op('Concat', pass === null ? [lo, hi] : [lo, hi, pass], { axis: -1 });
  };

  // ---- weights
  const f32Init = (name: string, dims: number[], transform: (d: Float32Array) => Float32Array = (d) => d): string =>
    g.initializer({
      name,
      dataType: DT.FLOAT,
      dims,
      byteLength: dims.reduce((a, b) => a * b, 1) * 4,
      produce: async () => bytesOf(transform((await src.tensorF32(name)).data)),
    });
  /** A norm's weight as the graph multiplies by it: w, or 1 + w for Gemma's x·(1 + w). */
  const normInit = (name: string, width: number): string => f32Init(name, [width], entry.normWeight === 'one_plus_w' ? (d) => d.map((v) => 1 + v) : undefined);
  const eps = g.constF32([spec.rmsNormEps], []);
  const rmsNorm = (x: string, weight: string): string => {
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, eps])])]), weight]);
  };
  const layerNorm = (x: string, layer: number, role: 'input' | 'pre_feedforward'): string => rmsNorm(x, normInit(requiredNormName(spec, layer, role), C));
  /** Gemma's post_attention / post_feedforward norm of a sublayer's output, where the family has it. */
  const postNorm = (x: string, layer: number, role: 'post_attention' | 'post_feedforward'): string => {
    const name = layerNormName(spec, layer, role);
    return name === null ? x : rmsNorm(x, normInit(name, C));
  };
  const softcap = (x: string, cap: number | null | undefined): string =>
    cap ? g.op('Mul', [g.op('Tanh', [g.op('Div', [x, g.constF32([cap], [])])]), g.constF32([cap], [])]) : x;

  const quantized = quantizedMatrices(src, g, quant);
  const linear = (x: string, layer: number, proj: Projection): string => {
    const name = projectionWeightName(layer, proj).replace(/\.weight$/, '');
    const [out, inp] = src.shapes.get(`${name}.weight`)! as number[];
    const site = src.lora(layer, proj);
    let y: string;
    if (quant === 'none') {
      const w = g.initializer({
        name: `${name}.weight`,
        dataType: DT.FLOAT,
        dims: [out, inp],
        byteLength: out * inp * 4,
        produce: async () => {
          const w0 = await src.tensorF32(`${name}.weight`);
          return bytesOf((site ? mergeLora(w0, site) : w0).data);
        },
      });
      y = g.op('Gemm', [x, w], { transB: 1 });
    } else {
      y = quantized.matMul(x, `${name}.weight`, out, inp);
      if (site) {
        const a = g.initializer({ name: `${name}.lora_A`, dataType: DT.FLOAT, dims: [site.r, inp], byteLength: site.r * inp * 4, produce: () => bytesOf(site.A.data) });
        const b = g.initializer({
          name: `${name}.lora_B_scaled`,
          dataType: DT.FLOAT,
          dims: [out, site.r],
          byteLength: out * site.r * 4,
          produce: () => bytesOf(site.B.data.map((v) => v * site.scale)),
        });
        y = g.op('Add', [y, g.op('Gemm', [g.op('Gemm', [x, a], { transB: 1 }), b], { transB: 1 })]);
      }
    }
    return projectionHasBias(spec, proj) ? g.op('Add', [y, f32Init(projectionWeightName(layer, proj, 'bias'), [out])]) : y;
  };
  /** The outputs of the roles asked for: each module of the family that makes one, a fused module's output split into its parts. */
  const project = (x: string, layer: number, roles: readonly ProjectionRole[]): Partial<Record<ProjectionRole, string>> => {
    const out: Partial<Record<ProjectionRole, string>> = {};
    for (const l of entry.linears) {
      if (!l.parts.some((r) => roles.includes(r))) continue;
      const y = linear(x, layer, l.module);
      if (l.parts.length === 1) {
        out[l.parts[0]] = y;
        continue;
      }
      const slices = projectionSlices(spec, l.module);
      const parts = g.opN('Split', [y, g.constI64(slices.map((s) => s.rows))], slices.length, { axis: -1 });
      slices.forEach((s, i) => (out[s.role] = parts[i]));
    }
    return out;
  };
  const role = (p: Partial<Record<ProjectionRole, string>>, r: ProjectionRole): string => {
    const v = p[r];
    if (v === undefined) throw new OnnxExportError(`${src.name}: ${entry.architecture} has no module computing ${r}`);
    return v;
  };
  const activation = (x: string): string => {
    if (hiddenAct(spec) === 'silu') return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    // gelu_pytorch_tanh: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.constF32([0.044715], [])])]), g.constF32([Math.sqrt(2 / Math.PI)], [])]);
    return g.op('Mul', [g.op('Mul', [x, g.constF32([0.5], [])]), g.op('Add', [g.op('Tanh', [inner]), g.constF32([1], [])])]);
  };

  // ---- embedding: [N = B*S, C], × sqrt(hidden) on Gemma
  const names = modelTensorNames(spec);
  const embedName = names.embed;
  let x: string;
  let embedF32: string | null = null;
  if (quant === 'none') {
    embedF32 = f32Init(embedName, [V, C]);
    x = g.op('Reshape', [g.op('Gather', [embedF32, inputIds]), g.constI64([-1, C])]);
  } else {
    x = quantized.gather(embedName, inputIds, V, C);
  }
  if (embedScale(spec) !== 1) x = g.op('Mul', [x, g.constF32([embedScale(spec)], [])]);

  // ---- layers
  const presents: string[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const h = layerNorm(x, l, 'input');
    const heads = (y: string, n: number, norm: string | null): string => {
      // [N, n*D] → [B, n, S, D], with the per-head RMSNorm first
      let t = y;
      if (norm) t = rmsNorm(g.op('Reshape', [t, g.constI64([-1, n, D])]), norm);
      const shape = n === H ? shapeBSHD : g.op('Concat', [shapeBS, g.constI64([n, D])], { axis: 0 });
      return g.op('Transpose', [g.op('Reshape', [t, shape])], { perm: [0, 2, 1, 3] });
    };
    const qNormName = layerNormName(spec, l, 'q_norm');
    const kNormName = layerNormName(spec, l, 'k_norm');
    const qNorm = qNormName ? normInit(qNormName, D) : null;
    const kNorm = kNormName ? normInit(kNormName, D) : null;
    const qkv = project(h, l, ['q', 'k', 'v']);
    const q = rope(heads(role(qkv, 'q'), H, qNorm), l); // [B, H, S, D]
    const k = rope(heads(role(qkv, 'k'), KV, kNorm), l); // [B, KV, S, D]
    const v = heads(role(qkv, 'v'), KV, null);
    const keyAll = g.op('Concat', [past[l].key, k], { axis: 2 }); // [B, KV, T, D]
    const valueAll = g.op('Concat', [past[l].value, v], { axis: 2 });
    g.output(keyAll, { name: `present.${l}.key`, elemType: DT.FLOAT, shape: ['batch_size', KV, 'total_sequence_length', D] });
    g.output(valueAll, { name: `present.${l}.value`, elemType: DT.FLOAT, shape: ['batch_size', KV, 'total_sequence_length', D] });
    presents.push(`present.${l}.key`, `present.${l}.value`);
    // Grouped-query attention without repeating k/v: q as [B, KV, G, S, D] against [B, KV, 1, T, D].
    const qg = g.op('Reshape', [q, g.constI64([0, KV, G, -1, D])]);
    const kT = g.op('Transpose', [g.op('Unsqueeze', [keyAll, g.constI64([2])])], { perm: [0, 1, 2, 4, 3] }); // [B, KV, 1, D, T]
    const scores = softcap(g.op('Mul', [g.op('MatMul', [qg, kT]), attnScale]), spec.attnLogitSoftcapping); // [B, KV, G, S, T]
    const probs = g.op('Softmax', [g.op('Where', [maskOf(l), maskValue, scores])], { axis: -1 });
    const ctx = g.op('MatMul', [probs, g.op('Unsqueeze', [valueAll, g.constI64([2])])]); // [B, KV, G, S, D]
    const merged = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [ctx, g.constI64([0, H, -1, D])])], { perm: [0, 2, 1, 3] }), g.constI64([-1, H * D])]);
    x = g.op('Add', [x, postNorm(role(project(merged, l, ['o']), 'o'), l, 'post_attention')]);

    const h2 = layerNorm(x, l, 'pre_feedforward');
    const gateUp = project(h2, l, ['gate', 'up']);
    const act = g.op('Mul', [activation(role(gateUp, 'gate')), role(gateUp, 'up')]);
    x = g.op('Add', [x, postNorm(role(project(act, l, ['down']), 'down'), l, 'post_feedforward')]);
  }

  // ---- final norm, LM head, final soft-capping
  const xn = rmsNorm(x, normInit(names.finalNorm, C));
  const headName = names.lmHead ?? embedName;
  let logits: string;
  if (quant === 'none') {
    const w = spec.tieWordEmbeddings ? embedF32! : f32Init(headName, [V, C]);
    logits = g.op('Gemm', [xn, w], { transB: 1 });
  } else {
    logits = quantized.matMul(xn, headName, V, C);
  }
  logits = softcap(logits, spec.finalLogitSoftcapping);
  g.output(g.op('Reshape', [logits, shapeLogits]), { name: 'logits', elemType: DT.FLOAT, shape: ['batch_size', 'sequence_length', V] });
  return g;
}

/**
 * The quantized matrices: MatMulNBits for products, and the embedding's row lookup. Each base
 * tensor is read and (if stored f32) quantized once with the studio's quantize(); its codes and
 * scales are two initializers written one after the other, so a one-entry memo serves both.
 *
 * MatMulNBits (com.microsoft): B uint8 [N, blocks, block_size*bits/8], scales f32 [N*blocks], no
 * zero_points = the default zero point 2^(bits-1) (8 for 4 bits, 128 for 8), values packed
 * along K, low nibble first. The studio's int4 row is exactly that: codes q in 0..15 stored
 * offset by 8, nibble j of word w = column 8w+j, i.e. byte k holds columns 2k (low) and 2k+1
 * (high); so its bytes are copied unchanged. Its int8 codes are signed (-127..127): code + 128 =
 * code XOR 0x80. Scales are copied as f32 (an int4 scale may be negative; that is just a float).
 */
function quantizedMatrices(src: ExportSource, g: GraphBuilder, quant: OnnxQuant) {
  const kind = quant as QuantKind;
  const bits = kind === 'int4' ? 4 : 8;
  let memo: { name: string; qt: QuantizedTensor } | null = null;
  const get = async (name: string): Promise<QuantizedTensor> => {
    if (memo?.name === name) return memo.qt;
    const qt = quantizeTensor(await src.tensor(name), kind, name);
    memo = { name, qt };
    return qt;
  };
  const codes = (qt: QuantizedTensor, xor: number): Uint8Array => {
    const b = new Uint8Array(qt.qweight.buffer, qt.qweight.byteOffset, qt.qweight.byteLength);
    if (xor === 0) return b;
    const out = new Uint8Array(b.byteLength);
    for (let i = 0; i < b.byteLength; i++) out[i] = b[i] ^ xor;
    return out;
  };
  const scalesOf = async (name: string): Promise<Uint8Array> => {
    const qt = await get(name);
    memo = null; // the scales come last
    return bytesOf(qt.scales);
  };
  const matMulInits = new Map<string, { b: string; s: string }>();
  return {
    matMul(x: string, name: string, rows: number, cols: number): string {
      let inits = matMulInits.get(name);
      if (!inits) {
        const nb = blocksPerRow(cols);
        const b = g.initializer({
          name: `${name}.q${bits}`,
          dataType: DT.UINT8,
          dims: [rows, nb, (QUANT_BLOCK * bits) / 8],
          byteLength: qBytes(kind, rows, cols),
          produce: async () => codes(await get(name), kind === 'int8' ? 0x80 : 0),
        });
        const s = g.initializer({ name: `${name}.scales`, dataType: DT.FLOAT, dims: [rows * nb], byteLength: scaleBytes(rows, cols), produce: () => scalesOf(name) });
        inits = { b, s };
        matMulInits.set(name, inits);
      }
      return g.op('MatMulNBits', [x, inits.b, inits.s], { K: cols, N: rows, bits, block_size: QUANT_BLOCK }, { domain: 'com.microsoft' });
    },
    /** Rows `ids` of a quantized (rows, cols) matrix as f32 [N, cols]. */
    gather(name: string, ids: string, rows: number, cols: number): string {
      const nb = blocksPerRow(cols);
      const padded = nb * QUANT_BLOCK;
      // int4: GatherBlockQuantized on signed INT4 (zero point 0): the studio's code c is c - 8
      // signed, i.e. c XOR 8 per nibble. int8: the codes as INT8, gathered with their scales and
      // multiplied per block with plain ops.
      const data = g.initializer({
        name: `${name}.gather_${kind}`,
        dataType: kind === 'int4' ? DT.INT4 : DT.INT8,
        dims: [rows, padded],
        byteLength: qBytes(kind, rows, cols),
        produce: async () => codes(await get(name), kind === 'int4' ? 0x88 : 0),
      });
      const scales = g.initializer({ name: `${name}.gather_scales`, dataType: DT.FLOAT, dims: [rows, nb], byteLength: scaleBytes(rows, cols), produce: () => scalesOf(name) });
      let y: string;
      if (kind === 'int4') {
        y = g.op('GatherBlockQuantized', [data, ids, scales], { gather_axis: 0, quantize_axis: 1, block_size: QUANT_BLOCK }, { domain: 'com.microsoft' });
        y = g.op('Reshape', [y, g.constI64([-1, padded])]);
      } else {
        const c = g.op('Cast', [g.op('Reshape', [g.op('Gather', [data, ids]), g.constI64([-1, nb, QUANT_BLOCK])])], { to: DT.FLOAT });
        const s = g.op('Reshape', [g.op('Gather', [scales, ids]), g.constI64([-1, nb, 1])]);
        y = g.op('Reshape', [g.op('Mul', [c, s]), g.constI64([-1, padded])]);
      }
      if (padded !== cols) y = g.op('Slice', [y, g.constI64([0]), g.constI64([cols]), g.constI64([1])]);
      return y;
    },
  };
}
