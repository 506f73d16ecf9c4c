// Matmuls and the embedding lookup against block-quantized frozen weights (shaders/matmul_q.wgsl),
// and their CPU twins, which read the same quantized data (src/quant/format.ts).
//
// A quantized weight lives in two GPU buffers (packed codes, scales). When either is larger than one
// storage binding may be (maxStorageBufferBindingSize), the kernels split the weight by rows into
// parts whose byte offsets meet minStorageBufferOffsetAlignment, and issue one dispatch per part:
//   forward:        part p writes the output columns of its rows (out[:, r0:r1]);
//   input gradient: part 0 writes (or accumulates), later parts accumulate, summing over all rows;
//                   split (split-K, matmul.ts's policy): every part cuts its rows into slices of
//                   kSlice rows, each slice writes its own partial slot in the scratch (part 0's
//                   slices first), and one split_reduce sums all slots in order into dinp;
//   embedding:      part p fills the tokens whose id falls in its rows; the last part zero-fills
//                   invalid ids.
// The buffers themselves must fit maxBufferSize (uploadQuantWeight checks).
// Large outputs use a 128x128 tile (generated WGSL, matmul-tile128.ts) with the same bindings,
// uniforms and CPU twins.
import code from '../../../shaders/matmul_q.wgsl?raw';
import { grid, isView, type Buf, type BufferView, type Gpu, type Recorder } from '../../gpu/gpu';
import { GpuLimitError } from '../../gpu/errors';
import type { UniformValues } from '../../gpu/uniforms';
import { matmulQ128Shader, resolveMatmulTile, TILE128, type MatmulTile } from './matmul-tile128';
import { matmulTiles, type MatmulSplit } from './matmul';
import { resolveSplit } from './split-k';
import { splitReduce } from './add';
import { QUANT_BLOCK_PIECE, withWorkgroupReductions } from './reductions';
import {
  blocksPerRow,
  dequantizeRows,
  wordsPerBlock,
  wordsPerRow,
  type QuantKind,
  type QuantizedTensor,
} from '../../quant/format';

export const matmulQShader = withWorkgroupReductions('matmul_q', code, [QUANT_BLOCK_PIECE]);

/** A quantized (rows, cols) weight on the GPU. rows = Out (or vocab), cols = In (or hidden). */
export interface QuantWeightBuffers {
  kind: QuantKind;
  /** rows * wordsPerRow(kind, cols) u32 codes. */
  q: Buf;
  /** rows * blocksPerRow(cols) f32 scales. */
  scales: Buf;
  rows: number;
  cols: number;
  /**
   * Bytes one binding may hold, below the device's maxStorageBufferBindingSize (tests set it small
   * to exercise the split). Omit to use the device limit.
   */
  maxBindingBytes?: number;
}

/** A row range of a quantized weight, bound as views. */
export interface QuantWeightPart {
  rowStart: number;
  rows: number;
  q: BufferView;
  scales: BufferView;
}

const WG_M = 16;
const WG_O = 16;
const TILE_M = 4 * WG_M;
const TILE_O = 4 * WG_O;
const EMB_WG = 64;
/** linear_gemv: invocations per workgroup and output rows per workgroup (GR in the shader). */
const GEMV_WG = 64;
const GEMV_ROWS = 8;
/** Split-K slices of linear_bwd_input are whole quantization-block steps of rows (BLOCK = 32). */
const SPLIT_UNIT = 32;

function bits(kind: QuantKind): number {
  return kind === 'int8' ? 8 : 4;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function asView(b: Buf): BufferView {
  return isView(b) ? b : { buffer: b, offset: 0, size: b.size };
}

/**
 * The row ranges a weight is bound as: one part when both buffers fit a binding, otherwise the
 * largest row counts whose code and scale byte offsets are multiples of the offset alignment.
 */
export function quantWeightParts(gpu: Gpu, w: QuantWeightBuffers): QuantWeightPart[] {
  const limit = Math.min(w.maxBindingBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const rowQ = wordsPerRow(w.kind, w.cols) * 4;
  const rowS = blocksPerRow(w.cols) * 4;
  const q = asView(w.q);
  const s = asView(w.scales);
  const totalQ = w.rows * rowQ;
  const totalS = w.rows * rowS;
  if (totalQ <= limit && totalS <= limit) {
    return [{ rowStart: 0, rows: w.rows, q: { ...q, size: totalQ }, scales: { ...s, size: totalS } }];
  }
  // Rows per part: a multiple of `unit` so that every part starts at an aligned offset.
  const unitQ = align / gcd(align, rowQ);
  const unitS = align / gcd(align, rowS);
  const unit = (unitQ * unitS) / gcd(unitQ, unitS);
  const fit = Math.floor(limit / rowQ);
  const per = Math.floor(fit / unit) * unit;
  if (per === 0) throw new GpuLimitError(`maxStorageBufferBindingSize (${unit} rows of a quantized ${w.rows}x${w.cols} weight)`, unit * rowQ, limit);
  const parts: QuantWeightPart[] = [];
  for (let r0 = 0; r0 < w.rows; r0 += per) {
    const rows = Math.min(per, w.rows - r0);
    parts.push({
      rowStart: r0,
      rows,
      q: { buffer: q.buffer, offset: q.offset + r0 * rowQ, size: rows * rowQ },
      scales: { buffer: s.buffer, offset: s.offset + r0 * rowS, size: rows * rowS },
    });
  }
  return parts;
}

/** Uploads a quantized tensor into two new storage buffers. */
export function uploadQuantWeight(gpu: Gpu, qt: QuantizedTensor, label: string): QuantWeightBuffers {
  const w = createQuantWeight(gpu, qt.kind, qt.rows, qt.cols, label);
  writeQuantRows(gpu, w, 0, qt);
  return w;
}

/** Allocates (zero-filled) buffers for a quantized weight, to be filled with writeQuantRows. */
export function createQuantWeight(gpu: Gpu, kind: QuantKind, rows: number, cols: number, label: string): QuantWeightBuffers {
  const q = gpu.createBuffer(rows * wordsPerRow(kind, cols) * 4, `${label}.q`);
  const scales = gpu.createBuffer(rows * blocksPerRow(cols) * 4, `${label}.scales`);
  return { kind, q, scales, rows, cols };
}

/** Writes a row range (e.g. one stored chunk) into a quantized weight at row `rowStart`. */
export function writeQuantRows(gpu: Gpu, w: QuantWeightBuffers, rowStart: number, part: QuantizedTensor): void {
  if (part.kind !== w.kind || part.cols !== w.cols || rowStart + part.rows > w.rows) {
    throw new RangeError(`writeQuantRows: ${part.kind} rows ${rowStart}+${part.rows} x ${part.cols} do not fit ${w.kind} ${w.rows}x${w.cols}`);
  }
  gpu.write(w.q, part.qweight, rowStart * wordsPerRow(w.kind, w.cols) * 4);
  gpu.write(w.scales, part.scales, rowStart * blocksPerRow(w.cols) * 4);
}

export function destroyQuantWeight(gpu: Gpu, w: QuantWeightBuffers): void {
  if (!isView(w.q)) gpu.destroyBuffer(w.q);
  if (!isView(w.scales)) gpu.destroyBuffer(w.scales);
}

/** The 128-tile shader's vec4 form needs every f32 row it touches 16-byte aligned. */
function vec4Ok(In: number, outStride: number, part: QuantWeightPart): boolean {
  return In % 4 === 0 && outStride % 4 === 0 && part.rowStart % 4 === 0 && part.rows % 4 === 0;
}

function checkShape(w: QuantWeightBuffers, In: number, Out: number, what: string): void {
  if (w.rows !== Out || w.cols !== In) throw new RangeError(`${what}: weight is ${w.rows}x${w.cols}, expected (Out=${Out}, In=${In})`);
}

/**
 * out (N, Out) = inp (N, In) · Wᵀ (+ bias) (+ out when accumulate); W (Out, In) quantized.
 * tile: 'auto' (matmulTileFor on N x Out), or force the 64x64 or 128x128 tile (128 throws
 * GpuLimitError where the device's limits do not allow it).
 */
export function linearForwardQ(
  rec: Recorder,
  out: Buf,
  inp: Buf,
  w: QuantWeightBuffers,
  bias: Buf | null,
  N: number,
  In: number,
  Out: number,
  accumulate = false,
  tile: MatmulTile = 'auto',
): void {
  checkShape(w, In, Out, 'linearForwardQ');
  const big = resolveMatmulTile(tile, N, Out, rec.gpu.limits, 'linearForwardQ') === 128;
  for (const part of quantWeightParts(rec.gpu, w)) {
    if (big) {
      rec.dispatch({
        shader: matmulQ128Shader(bits(w.kind) as 4 | 8, vec4Ok(In, Out, part)),
        entry: bias ? 'linear_fwd_bias' : 'linear_fwd',
        uniforms: quantParams(N, In, part, Out, accumulate ? 1 : 0),
        bindings: bias ? [out, inp, part.q, part.scales, bias] : [out, inp, part.q, part.scales],
        workgroups: [Math.ceil(part.rows / TILE128.TILE), Math.ceil(N / TILE128.TILE)],
        label: `linear_q_fwd ${w.kind} ${N}x${In}->${Out} tile128`,
      });
      continue;
    }
    rec.dispatch({
      shader: matmulQShader,
      entry: bias ? 'linear_fwd_bias' : 'linear_fwd',
      overrides: { BITS: bits(w.kind), WG_M, WG_O },
      uniforms: quantParams(N, In, part, Out, accumulate ? 1 : 0),
      bindings: bias ? [out, inp, part.q, part.scales, bias] : [out, inp, part.q, part.scales],
      workgroups: [Math.ceil(part.rows / TILE_O), Math.ceil(N / TILE_M)],
      label: `linear_q_fwd ${w.kind} ${N}x${In}->${Out}`,
    });
  }
}

/**
 * dinp (N, In) (=|+=) dout (N, Out) · W; W (Out, In) quantized. tile as linearForwardQ (on N x In).
 * split: split the reduction over Out (split-K, matmul.ts's policy) through that scratch; without
 * it the plain kernel runs.
 */
export function linearBackwardInputQ(
  rec: Recorder,
  dinp: Buf,
  dout: Buf,
  w: QuantWeightBuffers,
  N: number,
  In: number,
  Out: number,
  accumulate: boolean,
  tile: MatmulTile = 'auto',
  split?: MatmulSplit,
): void {
  checkShape(w, In, Out, 'linearBackwardInputQ');
  const size = resolveMatmulTile(tile, N, In, rec.gpu.limits, 'linearBackwardInputQ');
  const parts = quantWeightParts(rec.gpu, w);
  const gemm = { what: 'linearBackwardInputQ', family: 'matmul', M: N, Nc: In, parts: parts.map((p) => p.rows), tiles: matmulTiles(N, In, size), unit: SPLIT_UNIT } as const;
  const plan = resolveSplit(gemm, split, [dinp, dout, w.q, w.scales]);
  // Unsplit: part 0 writes (or accumulates), later parts accumulate into dinp. Split: each part's
  // slices write raw partials into their own slots of the scratch; the reduce applies accumulate.
  const dst = plan.split ? split!.partials : dinp;
  let slot = 0;
  parts.forEach((part, i) => {
    const slices = plan.partSlices[i];
    const flag = plan.split ? 0 : accumulate || i > 0 ? 1 : 0;
    const kSlice = plan.split ? plan.kSlice : part.rows;
    const uniforms = quantParams(N, In, part, Out, flag, kSlice, plan.split ? slot : 0);
    const label = `linear_q_bwd_input ${w.kind} ${N}x${Out}->${In}${size === 128 ? ' tile128' : ''}${plan.split ? ` split ${slices}x${plan.kSlice}` : ''}`;
    slot += slices;
    if (size === 128) {
      rec.dispatch({
        shader: matmulQ128Shader(bits(w.kind) as 4 | 8, vec4Ok(In, Out, part)),
        entry: 'linear_bwd_input',
        uniforms,
        bindings: [dst, dout, part.q, part.scales],
        workgroups: [Math.ceil(In / TILE128.TILE), Math.ceil(N / TILE128.TILE), slices],
        label,
      });
      return;
    }
    rec.dispatch({
      shader: matmulQShader,
      entry: 'linear_bwd_input',
      overrides: { BITS: bits(w.kind), WG_M, WG_O },
      uniforms,
      bindings: [dst, dout, part.q, part.scales],
      workgroups: [Math.ceil(In / TILE_O), Math.ceil(N / TILE_M), slices],
      label,
    });
  });
  if (plan.split) splitReduce(rec, dinp, split!.partials, N * In, plan.slices, N * In, accumulate);
}

/**
 * out (N, Out) = inp (N, In) · Wᵀ (+ bias) (+ out when accumulate) for a few token rows (decoding):
 * a matrix-vector product per row, GEMV_ROWS output rows per workgroup, instead of a 64-row tile.
 * Same result as linearForwardQ (its CPU twin is linearForwardQCpu).
 */
export function linearGemvQ(rec: Recorder, out: Buf, inp: Buf, w: QuantWeightBuffers, bias: Buf | null, N: number, In: number, Out: number, accumulate = false): void {
  checkShape(w, In, Out, 'linearGemvQ');
  const maxDim = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
  for (const part of quantWeightParts(rec.gpu, w)) {
    const [x, y] = grid(Math.ceil(part.rows / GEMV_ROWS), maxDim);
    rec.dispatch({
      shader: matmulQShader,
      entry: bias ? 'linear_gemv_bias' : 'linear_gemv',
      overrides: { BITS: bits(w.kind), WG: GEMV_WG },
      uniforms: quantParams(N, In, part, Out, accumulate ? 1 : 0),
      bindings: bias ? [out, inp, part.q, part.scales, bias] : [out, inp, part.q, part.scales],
      workgroups: [x, y, N],
      label: `linear_q_gemv ${w.kind} ${N}x${In}->${Out}`,
    });
  }
}

/**
 * The uniforms of shaders/quant_block.wgsl for one part of a (totalRows, In) weight: flag as the
 * entry point reads it (accumulate, or zero-fill invalid ids); kSlice, slot0 for linear_bwd_input.
 */
function quantParams(N: number, In: number, part: QuantWeightPart, totalRows: number, flag: number, kSlice = 0, slot0 = 0): UniformValues {
  return { N, In, Out: part.rows, outStride: totalRows, rowOffset: part.rowStart, flag, totalRows, kSlice, slot0 };
}

/** out (N, C) = table[ids[n]] dequantized; table (vocab, C) quantized; ids (N) u32 (as embeddingForward). Ids past the table give zeros. */
export function embeddingForwardQ(rec: Recorder, out: Buf, ids: Buf, table: QuantWeightBuffers, N: number, C: number): void {
  if (table.cols !== C) throw new RangeError(`embeddingForwardQ: table is ${table.rows}x${table.cols}, expected C=${C}`);
  const parts = quantWeightParts(rec.gpu, table);
  const wpr = wordsPerRow(table.kind, C);
  parts.forEach((part, i) => {
    rec.dispatch({
      shader: matmulQShader,
      entry: 'embedding',
      overrides: { BITS: bits(table.kind), WG: EMB_WG },
      uniforms: quantParams(N, C, part, table.rows, i === parts.length - 1 ? 1 : 0),
      bindings: [out, ids, part.q, part.scales],
      workgroups: grid(Math.ceil((N * wpr) / EMB_WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
      label: `embedding_q ${table.kind} ${N}x${C}`,
    });
  });
}

// ---- CPU twins: the same quantized data, decoded with the same arithmetic, f32 results. ----

/** Decodes rows in slabs so a large weight never needs a full f32 copy. */
function forEachRowSlab(w: QuantizedTensor, fn: (r0: number, rows: number, values: Float32Array) => void): void {
  const slab = Math.max(1, Math.floor((1 << 20) / Math.max(1, w.cols)));
  const buf = new Float32Array(Math.min(slab, w.rows) * w.cols);
  for (let r0 = 0; r0 < w.rows; r0 += slab) {
    const rows = Math.min(slab, w.rows - r0);
    const values = buf.subarray(0, rows * w.cols);
    dequantizeRows(w, r0, r0 + rows, values);
    fn(r0, rows, values);
  }
}

export function linearForwardQCpu(
  out: Float32Array,
  inp: Float32Array,
  w: QuantizedTensor,
  bias: Float32Array | null,
  N: number,
  In: number,
  Out: number,
  accumulate = false,
): void {
  if (w.rows !== Out || w.cols !== In) throw new RangeError('linearForwardQCpu: shape mismatch');
  forEachRowSlab(w, (r0, rows, W) => {
    for (let n = 0; n < N; n++) {
      const x = n * In;
      for (let r = 0; r < rows; r++) {
        const o = r0 + r;
        let s = 0;
        const wr = r * In;
        for (let i = 0; i < In; i++) s += inp[x + i] * W[wr + i];
        if (bias) s += bias[o];
        const idx = n * Out + o;
        out[idx] = accumulate ? out[idx] + s : s;
      }
    }
  });
}

export function linearBackwardInputQCpu(
  dinp: Float32Array,
  dout: Float32Array,
  w: QuantizedTensor,
  N: number,
  In: number,
  Out: number,
  accumulate: boolean,
): void {
  if (w.rows !== Out || w.cols !== In) throw new RangeError('linearBackwardInputQCpu: shape mismatch');
  const acc = new Float64Array(N * In);
  forEachRowSlab(w, (r0, rows, W) => {
    for (let n = 0; n < N; n++) {
      for (let r = 0; r < rows; r++) {
        const g = dout[n * Out + r0 + r];
        if (g === 0) continue;
        const wr = r * In;
        const a = n * In;
        for (let i = 0; i < In; i++) acc[a + i] += g * W[wr + i];
      }
    }
  });
  for (let k = 0; k < N * In; k++) dinp[k] = accumulate ? dinp[k] + acc[k] : acc[k];
}

export function embeddingForwardQCpu(out: Float32Array, ids: Uint32Array | Int32Array, table: QuantizedTensor, N: number, C: number): void {
  const row = new Float32Array(C);
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    if (id < 0 || id >= table.rows) {
      out.fill(0, n * C, (n + 1) * C);
      continue;
    }
    dequantizeRows(table, id, id + 1, row);
    out.set(row, n * C);
  }
}

/** Bytes a quantized weight takes on the GPU (codes + scales). */
export function quantWeightBytes(kind: QuantKind, rows: number, cols: number): number {
  return rows * (wordsPerRow(kind, cols) + blocksPerRow(cols)) * 4;
}

export { wordsPerBlock };
