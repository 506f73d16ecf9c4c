// The large GEMM tile for the frozen linears: 128x128 outputs per workgroup of 256 invocations,
// 8x8 per invocation, generated WGSL shared by the f32 kernels (matmul.ts, alongside
// shaders/matmul.wgsl's 64x64 tile) and the block-quantized ones (matmul-q.ts, alongside
// shaders/matmul_q.wgsl), and the rule that chooses between the two tile sizes.
//
// Why generated: WGSL arrays need constant sizes and the 64 accumulators must stay in registers,
// so the FMA block and the epilogue are unrolled here; and the vec4 global loads need row strides
// that are multiples of 4, so each shader comes in two texts: `vec4` (bindings typed
// array<vec4<f32>>, one 16-byte load per 4 floats, vec4 stores) and `scalar` (array<f32>, four
// bounds-checked loads; any shape). Each text has its own Shader name, so pipeline-cache keys and
// profile names differ from the 64 tile's ('matmul128_vec4.linear_forward', ...).
//
// The tile (both shaders):
//   invocation li = 0..255, (tx, ty) = (li % 16, li / 16), owns C rows
//   {4ty..4ty+3, 64+4ty..64+4ty+3} x columns {4tx..4tx+3, 64+4tx..64+4tx+3} of the 128x128 tile:
//   two 4-row halves and two 4-column halves, so each k step is 4 shared vec4 reads (a warp reads
//   2 distinct A vec4s, broadcast, and 16 consecutive B vec4s) for 64 FMAs.
//   K advances TK = 16 at a time through two shared buffers per operand (double buffering): while
//   the tile computes from one buffer, the next K slice is already loaded from global memory into
//   registers, and written to the other buffer afterwards: one barrier per K slice.
//   Shared memory: As, Bs = 2 buffers x 16 k-rows x 128 floats each = 2 x 16 KiB = 32 KiB.
//   Both are stored k-major (row k holds the 128 columns of the tile as 32 vec4 groups); the group
//   index is XOR-swizzled by k (slot()) so the transposing stores (an invocation writes one column
//   of 4 k-rows) are bank-conflict free without padding, which would not fit in 32 KiB.
//
// f32 (bindings and Params as shaders/matmul.wgsl, entry points of the same names):
//   C (M,Nc) = A (M,K)·B; forward B[k][n] = W[n][k] (K-contiguous, staged like A: transposed),
//   backward B[k][n] = W[k][n] (n-contiguous, staged as is). Grid folded as in matmul.wgsl.
// Quantized (bindings and Params as shaders/matmul_q.wgsl, entry points linear_fwd,
//   linear_fwd_bias, linear_bwd_input; workgroups (column tiles, row tiles)):
//   the codes of one K slice are loaded raw (u32 words plus one scale per block and row) and
//   dequantized once when written to shared memory, never per FMA.
//   forward: a K slice is half a quantization block; int4: 1 word per invocation (row li/2,
//   8 columns), int8: 2 words (rows li/4 and li/4+64, 4 columns each).
//   backward: a K slice is 16 rows of W times the tile's 4 column blocks; int4: 1 word per
//   invocation, int8: 2.
// Split-K (the backward entry points only, as in matmul.wgsl / matmul_q.wgsl): workgroup z = s
//   reduces over its slice of K (f32: [s·k_slice, ..), quantized: the part's rows [s·kSlice, ..))
//   and stores at a partial-result offset (f32: s·slice_stride; quantized: (slot0 + s)·N·In), with
//   accumulate off; the host then runs split_reduce. One slice (z = 0) is the plain GEMM.
import type { Shader } from '../../gpu/gpu';
import { GpuLimitError } from '../../gpu/errors';
import { kernelPolicy } from './policy';
import { composeShader, GEMM_PARAMS_PIECE, QUANT_BLOCK_PIECE, type WgslPiece } from './reductions';

/** Which tile a frozen-linear dispatch uses: 'auto' lets matmulTileFor decide. */
export type MatmulTile = 'auto' | 64 | 128;

export const TILE128 = {
  TILE: 128,
  TILE_K: 16,
  THREADS: 256,
  /** Workgroup storage the shaders declare: 2 operands x 2 buffers x 16 x 128 floats. */
  WORKGROUP_BYTES: 2 * 2 * 16 * 128 * 4,
} as const;

/** The device limits the large tile depends on (Gpu requests the adapter's maxima of these). */
export type TileLimits = Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize' | 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>;

/** The first limit the 128 tile exceeds, or null when the device can run it. */
function tile128Shortfall(limits: Partial<TileLimits>): { limit: string; needed: number; available: number } | null {
  const need: Array<[keyof TileLimits, number]> = [
    ['maxComputeWorkgroupStorageSize', TILE128.WORKGROUP_BYTES],
    ['maxComputeInvocationsPerWorkgroup', TILE128.THREADS],
    ['maxComputeWorkgroupSizeX', TILE128.THREADS],
  ];
  for (const [limit, needed] of need) {
    const available = limits[limit] ?? 0;
    if (!(available >= needed)) return { limit, needed, available };
  }
  return null;
}

/** Whether the device's limits allow the 128x128 tile. */
export function tile128Supported(limits: Partial<TileLimits>): boolean {
  return tile128Shortfall(limits) === null;
}

/**
 * The tile for an (M, N) output: 128 when it has at least kernelPolicy.tile128MinTiles (256) tiles of 128x128 (enough
 * workgroups to fill a large GPU), pads the output by no more than 15% beyond what the 64 tile
 * pads (a 64-row head chunk would waste half of every 128 tile), and the limits allow it;
 * otherwise 64.
 */
export function matmulTileFor(M: number, N: number, limits: Partial<TileLimits>): 64 | 128 {
  const padded = (t: number): number => Math.ceil(M / t) * t * Math.ceil(N / t) * t;
  const tiles = padded(TILE128.TILE) / (TILE128.TILE * TILE128.TILE);
  return tiles >= kernelPolicy.tile128MinTiles && padded(128) <= 1.15 * padded(64) && tile128Supported(limits) ? 128 : 64;
}

/** Resolves 'auto'; an explicit 128 on a device that cannot run it throws GpuLimitError. */
export function resolveMatmulTile(tile: MatmulTile, M: number, N: number, limits: Partial<TileLimits>, what: string): 64 | 128 {
  if (tile === 'auto') return matmulTileFor(M, N, limits);
  if (tile === 128) {
    const s = tile128Shortfall(limits);
    if (s) throw new GpuLimitError(`${s.limit} (${what}, 128x128 tile)`, s.needed, s.available);
  }
  return tile;
}

// ---------------------------------------------------------------- WGSL pieces shared by both

const COMPS = ['x', 'y', 'z', 'w'];

/** v = X[col][4kq .. 4kq+3] of a K-contiguous operand, stored transposed into k-rows 4kq..4kq+3 of `arr`. */
function putTransposed(name: string, arr: string): string {
  const rows = [0, 1, 2, 3].map((i) => `  ${arr}[base + slot(4u * kq${i ? ` + ${i}u` : ''}, g)][c] = v.${COMPS[i]};`);
  return `fn ${name}(base: u32, col: u32, kq: u32, v: vec4<f32>) {
  let g = col / 4u;
  let c = col % 4u;
${rows.join('\n')}
}`;
}

const COMMON = /* wgsl */ `
const TK: u32 = 16u;
const BUF: u32 = 512u;  // vec4 slots in one buffer: TK k-rows x 32 column groups

var<workgroup> As: array<vec4<f32>, 1024>;  // two buffers of the A slice, k-major
var<workgroup> Bs: array<vec4<f32>, 1024>;  // two buffers of the B slice, k-major

// Slot of column group g (columns 4g..4g+3) of k-row k within a buffer. The XOR by k keeps the
// transposing stores (one column of 4 consecutive k-rows per invocation) free of bank conflicts.
fn slot(k: u32, g: u32) -> u32 {
  return k * 32u + (g ^ (((k >> 2u) & 3u) << 1u));
}

${putTransposed('put_a_t', 'As')}

${putTransposed('put_b_t', 'Bs')}
`;

/** acc{2r} holds row r's columns 4tx.., acc{2r+1} its columns 64+4tx..; rows r<4 at 4ty+r, else 64+4ty+r-4. */
function accDecl(): string {
  return Array.from({ length: 16 }, (_, i) => `  var acc${i} = vec4<f32>(0.0);`).join('\n');
}

function fmaBlock(): string {
  const lines: string[] = [];
  for (let r = 0; r < 8; r++) {
    const a = r < 4 ? `a0.${COMPS[r]}` : `a1.${COMPS[r - 4]}`;
    lines.push(`      acc${2 * r} = fma(vec4<f32>(${a}), b0, acc${2 * r});`);
    lines.push(`      acc${2 * r + 1} = fma(vec4<f32>(${a}), b1, acc${2 * r + 1});`);
  }
  return lines.join('\n');
}

/**
 * The double-buffered main loop. fetch(kt) loads K slice kt into registers; stash writes the
 * registers into the buffer at `base`; nt is the number of K slices.
 */
function mainLoop(nt: string, fetch: (kt: string) => string, stash: string): string {
  return `${accDecl()}
  let nt = ${nt};
  ${fetch('0u')}
  {
    let base = 0u;
${stash}
  }
  workgroupBarrier();
  for (var kt = 0u; kt < nt; kt++) {
    let cur = (kt & 1u) * BUF;
    if (kt + 1u < nt) {
      ${fetch('kt + 1u')}
    }
    for (var k = 0u; k < TK; k++) {
      let a0 = As[cur + slot(k, ty)];
      let a1 = As[cur + slot(k, ty + 16u)];
      let b0 = Bs[cur + slot(k, tx)];
      let b1 = Bs[cur + slot(k, tx + 16u)];
${fmaBlock()}
    }
    if (kt + 1u < nt) {
      let base = BUF - cur;
${stash}
    }
    workgroupBarrier();
  }`;
}

/** Calls store([base, ]row, col, acc + bias) for the invocation's 16 vec4 outputs. */
function epilogue(m0: string, n0: string, store: string, withBias: boolean, base?: string): string {
  const lines: string[] = [];
  if (withBias) {
    lines.push(`  let bias0 = ld_bias(${n0} + 4u * tx);`);
    lines.push(`  let bias1 = ld_bias(${n0} + 64u + 4u * tx);`);
  }
  for (let r = 0; r < 8; r++) {
    const row = r < 4 ? `${m0} + 4u * ty + ${r}u` : `${m0} + 64u + 4u * ty + ${r - 4}u`;
    for (let h = 0; h < 2; h++) {
      const col = h === 0 ? `${n0} + 4u * tx` : `${n0} + 64u + 4u * tx`;
      const v = withBias ? `acc${2 * r + h} + bias${h}` : `acc${2 * r + h}`;
      lines.push(`  ${store}(${base ? `${base}, ` : ''}${row}, ${col}, ${v});`);
    }
  }
  return lines.join('\n');
}

const ENTRY_ARGS =
  '@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32';

const THREAD_IDS = `  let tx = li % 16u;
  let ty = li / 16u;
  let am = li / 4u;  // staging of a K-contiguous operand: columns am and am + 64, k-quad aq
  let aq = li % 4u;`;

/** A 4-float load helper: vec4 (one load, row stride a multiple of 4) or four bounds-checked scalars. */
function load4(name: string, args: string, arr: string, ok: string, start: string, lastOk: (j: string) => string, vec: boolean): string {
  if (vec) {
    return `fn ${name}(${args}) -> vec4<f32> {
  if (${ok}) { return ${arr}[(${start}) / 4u]; }
  return vec4<f32>(0.0);
}`;
  }
  return `fn ${name}(${args}) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (${ok}) {
    let s = ${start};
    for (var j = 0u; j < 4u; j++) {
      if (${lastOk('j')}) { v[j] = ${arr}[s + j]; }
    }
  }
  return v;
}`;
}

/**
 * A 4-float store helper (=, or += when acc), same two forms. withBase: a first parameter `base`
 * (a multiple of 4 in the vec4 form) is added to the index (a split-K partial's offset).
 */
function store4(name: string, arr: string, ok: string, idx: string, colOk: (j: string) => string, acc: string, vec: boolean, withBase = false): string {
  const params = `${withBase ? 'base: u32, ' : ''}row: u32, col: u32, v: vec4<f32>`;
  const index = withBase ? `base + ${idx}` : idx;
  if (vec) {
    return `fn ${name}(${params}) {
  if (${ok}) {
    let i = (${index}) / 4u;
    var r = v;
    if (${acc} != 0u) { r += ${arr}[i]; }
    ${arr}[i] = r;
  }
}`;
  }
  return `fn ${name}(${params}) {
  if (${ok}) {
    let i = ${index};
    for (var j = 0u; j < 4u; j++) {
      if (${colOk('j')}) {
        var r = v[j];
        if (${acc} != 0u) { r += ${arr}[i + j]; }
        ${arr}[i + j] = r;
      }
    }
  }
}`;
}

// ---------------------------------------------------------------- f32 (matmul.wgsl's bindings)

function f32Code(vec: boolean): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  // Params: shaders/gemm_params.wgsl, composed in front (matmul128Shader).
  return `// Generated by src/engine/kernels/matmul-tile128.ts: 128x128-tile f32 GEMM, ${vec ? 'vec4' : 'scalar'} global access.
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<${T}>;
@group(0) @binding(2) var<storage, read> a: array<${T}>;
@group(0) @binding(3) var<storage, read> w: array<${T}>;
@group(0) @binding(4) var<storage, read> bias: array<${T}>;
${COMMON}
// A[row][k..k+3], zero outside (M, K).
${load4('ld_a', 'row: u32, k: u32', 'a', 'row < p.M && k < p.K', 'row * p.K + k', (j) => `k + ${j} < p.K`, vec)}

// Forward: B[k..k+3][n] = W[n][k..k+3], W (Nc, K).
${load4('ld_w_nt', 'n: u32, k: u32', 'w', 'n < p.Nc && k < p.K', 'n * p.K + k', (j) => `k + ${j} < p.K`, vec)}

// Backward: B[k][n..n+3] = W[k][n..n+3], W (K, Nc).
${load4('ld_w_nn', 'k: u32, n: u32', 'w', 'k < p.K && n < p.Nc', 'k * p.Nc + n', (j) => `n + ${j} < p.Nc`, vec)}

${load4('ld_bias', 'n: u32', 'bias', 'n < p.Nc', 'n', (j) => `n + ${j} < p.Nc`, vec)}

${store4('st_c', 'c', 'row < p.M && col < p.Nc', 'row * p.Nc + col', (j) => `col + ${j} < p.Nc`, 'p.accumulate', vec)}

// Backward: into C, or into a split-K slice's partial at base.
${store4('st_c_part', 'c', 'row < p.M && col < p.Nc', 'row * p.Nc + col', (j) => `col + ${j} < p.Nc`, 'p.accumulate', vec, true)}

${f32Entry('linear_forward', 'nt', false)}

${f32Entry('linear_forward_bias', 'nt', true)}

${f32Entry('linear_backward_input', 'nn', false)}
`;
}

function f32Entry(name: string, orient: 'nt' | 'nn', withBias: boolean): string {
  const fetch = (kt: string): string =>
    orient === 'nt'
      ? `{
      let k0 = (${kt}) * TK + 4u * aq;
      ra0 = ld_a(m0 + am, k0);
      ra1 = ld_a(m0 + am + 64u, k0);
      rb0 = ld_w_nt(n0 + am, k0);
      rb1 = ld_w_nt(n0 + am + 64u, k0);
    }`
      : `{
      let k0 = k_begin + (${kt}) * TK;
      ra0 = ld_a(m0 + am, k0 + 4u * aq);
      ra1 = ld_a(m0 + am + 64u, k0 + 4u * aq);
      rb0 = ld_w_nn(k0 + bk, n0 + 4u * bq);
      rb1 = ld_w_nn(k0 + bk + 8u, n0 + 4u * bq);
    }`;
  const stash =
    orient === 'nt'
      ? `    put_a_t(base, am, aq, ra0);
    put_a_t(base, am + 64u, aq, ra1);
    put_b_t(base, am, aq, rb0);
    put_b_t(base, am + 64u, aq, rb1);`
      : `    put_a_t(base, am, aq, ra0);
    put_a_t(base, am + 64u, aq, ra1);
    Bs[base + slot(bk, bq)] = rb0;
    Bs[base + slot(bk + 8u, bq)] = rb1;`;
  return `@compute @workgroup_size(256)
fn ${name}(${ENTRY_ARGS}) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.tiles) { return; }
  let m0 = (t % p.tiles_m) * 128u;
  let n0 = (t / p.tiles_m) * 128u;
${THREAD_IDS}
  let bk = li / 32u;  // n-contiguous staging: k-rows bk and bk + 8, column group bq
  let bq = li % 32u;
  var ra0: vec4<f32>;
  var ra1: vec4<f32>;
  var rb0: vec4<f32>;
  var rb1: vec4<f32>;${
    orient === 'nn'
      ? `
  // Reduction slice wid.z (k_slice a multiple of TK; the last slice ragged, loads zero past K).
  let k_begin = wid.z * p.k_slice;
  let k_end = max(k_begin, min(p.K, k_begin + p.k_slice));`
      : ''
  }
${mainLoop(orient === 'nn' ? '(k_end - k_begin + TK - 1u) / TK' : '(p.K + TK - 1u) / TK', fetch, stash)}
${orient === 'nn' ? epilogue('m0', 'n0', 'st_c_part', withBias, 'wid.z * p.slice_stride') : epilogue('m0', 'n0', 'st_c', withBias)}
}`;
}

// ---------------------------------------------------------------- quantized (matmul_q.wgsl's bindings)

function quantCode(bits: 4 | 8, vec: boolean): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  // Params, q, scales and the unpacking: shaders/quant_block.wgsl, composed in front (matmulQ128Shader).
  return `// Generated by src/engine/kernels/matmul-tile128.ts: 128x128-tile GEMM against an int${bits} weight, ${vec ? 'vec4' : 'scalar'} f32 access.
@group(0) @binding(1) var<storage, read_write> dst: array<${T}>;
@group(0) @binding(2) var<storage, read> src: array<${T}>;
@group(0) @binding(5) var<storage, read> bias: array<${T}>;
${COMMON}
const BITS: u32 = ${bits}u;  // also the u32 words per 32-value block

// inp[n][k..k+3], zero outside (N, In).
${load4('ld_x', 'n: u32, k: u32', 'src', 'n < p.N && k < p.In', 'n * p.In + k', (j) => `k + ${j} < p.In`, vec)}

// dout[n][rowOffset + o .. +3] for o in this part's rows.
${load4('ld_dy', 'n: u32, o: u32', 'src', 'n < p.N && o < p.Out', 'n * p.outStride + p.rowOffset + o', (j) => `o + ${j} < p.Out`, vec)}

${load4('ld_bias', 'o: u32', 'bias', 'o < p.Out', 'p.rowOffset + o', (j) => `o + ${j} < p.Out`, vec)}

${store4('st_fwd', 'dst', 'row < p.N && col < p.Out', 'row * p.outStride + p.rowOffset + col', (j) => `col + ${j} < p.Out`, 'p.flag', vec)}

${store4('st_bwd', 'dst', 'row < p.N && col < p.In', 'row * p.In + col', (j) => `col + ${j} < p.In`, 'p.flag', vec, true)}

${quantFwdEntry('linear_fwd', bits, false)}

${quantFwdEntry('linear_fwd_bias', bits, true)}

${quantBwdEntry(bits)}
`;
}

const QUANT_PRELUDE = `  let nb = (p.In + 31u) / 32u;
  let wpr = nb * BITS;`;

function quantFwdEntry(name: string, bits: 4 | 8, withBias: boolean): string {
  // K slice kt = half (kt % 2) of block kt / 2. int4: row bo = li / 2, word 2h + bw of the block
  // (columns 8bw..8bw+7 of the slice); int8: rows bo and bo + 64, word 4h + bw (columns 4bw..).
  const fetchB = (kt: string): string =>
    bits === 4
      ? `let kb = (${kt}) / 2u;
      let wi = kb * 4u + ((${kt}) % 2u) * 2u + bw;
      let r = o0 + bo;
      rq0 = 0u;
      rs0 = 0.0;
      if (r < p.Out) { rq0 = q[r * wpr + wi]; rs0 = scales[r * nb + kb]; }`
      : `let kb = (${kt}) / 2u;
      let wi = kb * 8u + ((${kt}) % 2u) * 4u + bw;
      let r = o0 + bo;
      rq0 = 0u;
      rs0 = 0.0;
      rq1 = 0u;
      rs1 = 0.0;
      if (r < p.Out) { rq0 = q[r * wpr + wi]; rs0 = scales[r * nb + kb]; }
      if (r + 64u < p.Out) { rq1 = q[(r + 64u) * wpr + wi]; rs1 = scales[(r + 64u) * nb + kb]; }`;
  const fetch = (kt: string): string => `{
      let k0 = (${kt}) * TK + 4u * aq;
      ra0 = ld_x(m0 + am, k0);
      ra1 = ld_x(m0 + am + 64u, k0);
      ${fetchB(kt)}
    }`;
  const stashB =
    bits === 4
      ? `    put_b_t(base, bo, 2u * bw, nib_lo(rq0) * rs0);
    put_b_t(base, bo, 2u * bw + 1u, nib_hi(rq0) * rs0);`
      : `    put_b_t(base, bo, bw, bytes4(rq0) * rs0);
    put_b_t(base, bo + 64u, bw, bytes4(rq1) * rs1);`;
  const stash = `    put_a_t(base, am, aq, ra0);
    put_a_t(base, am + 64u, aq, ra1);
${stashB}`;
  return `@compute @workgroup_size(256)
fn ${name}(${ENTRY_ARGS}) {
  let m0 = wid.y * 128u;
  let o0 = wid.x * 128u;
${THREAD_IDS}
${QUANT_PRELUDE}
  let bo = li / ${bits === 4 ? 2 : 4}u;
  let bw = li % ${bits === 4 ? 2 : 4}u;
  var ra0: vec4<f32>;
  var ra1: vec4<f32>;
  var rq0: u32;
  var rs0: f32;${bits === 8 ? '\n  var rq1: u32;\n  var rs1: f32;' : ''}
${mainLoop('(p.In + TK - 1u) / TK', fetch, stash)}
${epilogue('m0', 'o0', 'st_fwd', withBias)}
}`;
}

function quantBwdEntry(bits: 4 | 8): string {
  // K slice kt = rows 16kt.. of this part; the tile's columns i0..i0+127 are blocks i0/32 + 0..3.
  // int4: row bk = li / 16, block bb, word bw (columns bb*32 + 8bw ..+7);
  // int8: rows bk and bk + 8, block bb, word bw (columns bb*32 + 4bw ..+3).
  const fetchB =
    bits === 4
      ? `let r = k0 + bk;
      let blk = i0 / 32u + bb;
      rq0 = 0u;
      rs0 = 0.0;
      if (r < p.Out && blk < nb) { rq0 = q[r * wpr + blk * 4u + bw]; rs0 = scales[r * nb + blk]; }`
      : `let r = k0 + bk;
      let blk = i0 / 32u + bb;
      rq0 = 0u;
      rs0 = 0.0;
      rq1 = 0u;
      rs1 = 0.0;
      if (blk < nb) {
        if (r < p.Out) { rq0 = q[r * wpr + blk * 8u + bw]; rs0 = scales[r * nb + blk]; }
        if (r + 8u < p.Out) { rq1 = q[(r + 8u) * wpr + blk * 8u + bw]; rs1 = scales[(r + 8u) * nb + blk]; }
      }`;
  const fetch = (kt: string): string => `{
      let k0 = r_begin + (${kt}) * TK;
      ra0 = ld_dy(m0 + am, k0 + 4u * aq);
      ra1 = ld_dy(m0 + am + 64u, k0 + 4u * aq);
      ${fetchB}
    }`;
  const stashB =
    bits === 4
      ? `    Bs[base + slot(bk, bb * 8u + 2u * bw)] = nib_lo(rq0) * rs0;
    Bs[base + slot(bk, bb * 8u + 2u * bw + 1u)] = nib_hi(rq0) * rs0;`
      : `    Bs[base + slot(bk, bb * 8u + bw)] = bytes4(rq0) * rs0;
    Bs[base + slot(bk + 8u, bb * 8u + bw)] = bytes4(rq1) * rs1;`;
  const stash = `    put_a_t(base, am, aq, ra0);
    put_a_t(base, am + 64u, aq, ra1);
${stashB}`;
  const ids =
    bits === 4
      ? `  let bk = li / 16u;
  let bb = (li % 16u) / 4u;
  let bw = li % 4u;`
      : `  let bk = li / 32u;
  let bb = (li % 32u) / 8u;
  let bw = li % 8u;`;
  return `@compute @workgroup_size(256)
fn linear_bwd_input(${ENTRY_ARGS}) {
  let m0 = wid.y * 128u;
  let i0 = wid.x * 128u;
${THREAD_IDS}
${QUANT_PRELUDE}
${ids}
  var ra0: vec4<f32>;
  var ra1: vec4<f32>;
  var rq0: u32;
  var rs0: f32;${bits === 8 ? '\n  var rq1: u32;\n  var rs1: f32;' : ''}
  // Reduction slice wid.z over this part's rows (kSlice a multiple of 32; the last slice ragged).
  let r_begin = wid.z * p.kSlice;
  let r_end = max(r_begin, min(p.Out, r_begin + p.kSlice));
${mainLoop('(r_end - r_begin + TK - 1u) / TK', fetch, stash)}
${epilogue('m0', 'i0', 'st_bwd', false, '(p.slot0 + wid.z) * p.N * p.In')}
}`;
}

// ---------------------------------------------------------------- shaders (generated once each)

/** Re-indents generated WGSL by brace depth (the templates above nest unevenly). */
function reindent(code: string): string {
  let depth = 0;
  return code
    .split('\n')
    .map((raw) => {
      const line = raw.trim();
      if (line.startsWith('}')) depth--;
      const out = line ? '  '.repeat(Math.max(0, depth)) + line : '';
      const code = line.replace(/\/\/.*$/, '');
      depth += (code.match(/{/g)?.length ?? 0) - (code.match(/}/g)?.length ?? 0) + (line.startsWith('}') ? 1 : 0);
      return out;
    })
    .join('\n');
}

const shaders = new Map<string, Shader>();

function cached(name: string, pieces: readonly WgslPiece[], make: () => string): Shader {
  let s = shaders.get(name);
  if (!s) {
    s = composeShader(name, reindent(make()), pieces);
    shaders.set(name, s);
  }
  return s;
}

/**
 * The f32 128-tile shader (entry points linear_forward, linear_forward_bias,
 * linear_backward_input). vec: K and Nc are multiples of 4 (every row the shader reads or writes
 * starts 16-byte aligned).
 */
export function matmul128Shader(vec: boolean): Shader {
  const name = `matmul128_${vec ? 'vec4' : 'scalar'}`;
  return cached(name, [GEMM_PARAMS_PIECE], () => f32Code(vec));
}

/**
 * The quantized 128-tile shader (entry points linear_fwd, linear_fwd_bias, linear_bwd_input).
 * vec: In, outStride, rowOffset and the part's rows are multiples of 4.
 */
export function matmulQ128Shader(bits: 4 | 8, vec: boolean): Shader {
  const name = `matmul_q128_int${bits}_${vec ? 'vec4' : 'scalar'}`;
  return cached(name, [QUANT_BLOCK_PIECE], () => quantCode(bits, vec));
}
