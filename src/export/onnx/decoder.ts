// The decoder as an ONNX graph with the interface Transformers.js feeds a causal LM:
//   inputs  input_ids, position_ids [batch, seq] int64, attention_mask [batch, past+seq] int64,
//           past_key_values.{i}.key/value [batch, kv_heads, past, head_dim] f32
//   outputs logits [batch, seq, vocab], present.{i}.key/value [batch, kv_heads, past+seq, head_dim]
// One graph serves the prompt (past = 0) and every new token.
//
// It computes what the engine computes (src/engine/model/layer.ts): RMSNorm, q/k/v (bias on
// Qwen2), per-head q/k RMSNorm (Qwen3), RoPE from the engine's own tables (ropeTables: every
// rope_type it trains, transformers' rotate_half convention), grouped-query causal attention,
// SiLU-gated MLP, tied or separate LM head. Base weights: f32 with the LoRA merged, or the
// studio's int8/int4 blocks as com.microsoft MatMulNBits (no requantization) with the LoRA as its
// own low-rank branch. Only standard ai.onnx ops (opset 17) and com.microsoft MatMulNBits /
// GatherBlockQuantized, which onnxruntime-web runs on wasm and WebGPU.
import { ropeTables } from '../../engine/kernels/rope';
import type { ModelSpec, Projection } from '../../engine/model/spec';
import { layerAttention, layerNormName, modelTensorNames, projectionHasBias, projectionWeightName, refuseUnsupported, requiredNormName, type ArchFeature } from '../../engine/model/arch';
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
 * The features of the architecture table (arch/features.ts) this graph computes; a model with
 * any other is refused naming it. The sliding window is computed exactly (each sliding layer's
 * mask hides keys more than window - 1 positions back).
 */
export const ONNX_FEATURES: readonly ArchFeature[] = ['qk_norm', 'sliding_window'];

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
  const { hiddenSize: C, numHeads: H, numKvHeads: KV, headDim: D, vocabSize: V } = spec;
  if (H % KV !== 0) throw new OnnxExportError(`${src.name}: num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);
  const G = H / KV;

  // ---- inputs
  const inputIds = g.input({ name: 'input_ids', elemType: DT.INT64, shape: ['batch_size', 'sequence_length'] });
  const attnMask = g.input({ name: 'attention_mask', elemType: DT.INT64, shape: ['batch_size', 'total_sequence_length'] });
  const positionIds = g.input({ name: 'position_ids', elemType: DT.INT64, shape: ['batch_size', 'sequence_length'] });
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
  const attnScale = g.constF32([1 / Math.sqrt(D)], []);

  // ---- RoPE tables (the engine's): [positions, D/2], gathered by position_ids
  const P = ropePositions(spec);
  let tables: { cos: Float32Array; sin: Float32Array } | null = null;
  const table = (which: 'cos' | 'sin'): Uint8Array => {
    tables ??= ropeTables(spec.rope, P, D);
    const t = tables[which];
    if (which === 'sin') tables = null; // written cos then sin: drop them after
    return bytesOf(t);
  };
  const cosT = g.initializer({ name: 'rope.cos', dataType: DT.FLOAT, dims: [P, D / 2], byteLength: P * (D / 2) * 4, produce: () => table('cos') });
  const sinT = g.initializer({ name: 'rope.sin', dataType: DT.FLOAT, dims: [P, D / 2], byteLength: P * (D / 2) * 4, produce: () => table('sin') });
  const cos = g.op('Unsqueeze', [g.op('Gather', [cosT, positionIds]), g.constI64([1])]); // [B, 1, S, D/2]
  const sin = g.op('Unsqueeze', [g.op('Gather', [sinT, positionIds]), g.constI64([1])]);
  const halves = g.constI64([D / 2, D / 2]);
  const rope = (x: string): string => {
    const [a, e] = g.opN('Split', [x, halves], 2, { axis: -1 });
    const lo = g.op('Sub', [g.op('Mul', [a, cos]), g.op('Mul', [e, sin])]);
    const hi = g.op('Add', [g.op('Mul', [e, cos]), g.op('Mul', [a, sin])]);
    return g.op('Concat', [lo, hi], { axis: -1 });
  };

  // ---- weights
  const f32Init = (name: string, dims: number[]): string =>
    g.initializer({
      name,
      dataType: DT.FLOAT,
      dims,
      byteLength: dims.reduce((a, b) => a * b, 1) * 4,
      produce: async () => bytesOf((await src.tensorF32(name)).data),
    });
  const eps = g.constF32([spec.rmsNormEps], []);
  const rmsNorm = (x: string, weight: string): string => {
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, eps])])]), weight]);
  };

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

  // ---- embedding: [N = B*S, C]
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

  // ---- layers
  const presents: string[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const h = rmsNorm(x, f32Init(requiredNormName(spec, l, 'input'), [C]));
    const heads = (y: string, n: number, norm: string | null): string => {
      // [N, n*D] → [B, n, S, D], with Qwen3's per-head RMSNorm first
      let t = y;
      if (norm) t = rmsNorm(g.op('Reshape', [t, g.constI64([-1, n, D])]), norm);
      const shape = n === H ? shapeBSHD : g.op('Concat', [shapeBS, g.constI64([n, D])], { axis: 0 });
      return g.op('Transpose', [g.op('Reshape', [t, shape])], { perm: [0, 2, 1, 3] });
    };
    const qNormName = layerNormName(spec, l, 'q_norm');
    const kNormName = layerNormName(spec, l, 'k_norm');
    const qNorm = qNormName ? f32Init(qNormName, [D]) : null;
    const kNorm = kNormName ? f32Init(kNormName, [D]) : null;
    const q = rope(heads(linear(h, l, 'q_proj'), H, qNorm)); // [B, H, S, D]
    const k = rope(heads(linear(h, l, 'k_proj'), KV, kNorm)); // [B, KV, S, D]
    const v = heads(linear(h, l, 'v_proj'), KV, null);
    const keyAll = g.op('Concat', [past[l].key, k], { axis: 2 }); // [B, KV, T, D]
    const valueAll = g.op('Concat', [past[l].value, v], { axis: 2 });
    g.output(keyAll, { name: `present.${l}.key`, elemType: DT.FLOAT, shape: ['batch_size', KV, 'total_sequence_length', D] });
    g.output(valueAll, { name: `present.${l}.value`, elemType: DT.FLOAT, shape: ['batch_size', KV, 'total_sequence_length', D] });
    presents.push(`present.${l}.key`, `present.${l}.value`);
    // Grouped-query attention without repeating k/v: q as [B, KV, G, S, D] against [B, KV, 1, T, D].
    const qg = g.op('Reshape', [q, g.constI64([0, KV, G, -1, D])]);
    const kT = g.op('Transpose', [g.op('Unsqueeze', [keyAll, g.constI64([2])])], { perm: [0, 1, 2, 4, 3] }); // [B, KV, 1, D, T]
    const scores = g.op('Mul', [g.op('MatMul', [qg, kT]), attnScale]); // [B, KV, G, S, T]
    const probs = g.op('Softmax', [g.op('Where', [maskOf(l), maskValue, scores])], { axis: -1 });
    const ctx = g.op('MatMul', [probs, g.op('Unsqueeze', [valueAll, g.constI64([2])])]); // [B, KV, G, S, D]
    const merged = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [ctx, g.constI64([0, H, -1, D])])], { perm: [0, 2, 1, 3] }), g.constI64([-1, H * D])]);
    x = g.op('Add', [x, linear(merged, l, 'o_proj')]);

    const h2 = rmsNorm(x, f32Init(requiredNormName(spec, l, 'pre_feedforward'), [C]));
    const gate = linear(h2, l, 'gate_proj');
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(h2, l, 'up_proj')]);
    x = g.op('Add', [x, linear(act, l, 'down_proj')]);
  }

  // ---- final norm and LM head
  const xn = rmsNorm(x, f32Init(names.finalNorm, [C]));
  const headName = names.lmHead ?? embedName;
  let logits: string;
  if (quant === 'none') {
    const w = spec.tieWordEmbeddings ? embedF32! : f32Init(headName, [V, C]);
    logits = g.op('Gemm', [xn, w], { transB: 1 });
  } else {
    logits = quantized.matMul(xn, headName, V, C);
  }
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
