// Matmuls and the embedding lookup against a block-quantized weight, dequantized inside the tile.
//
// Weight format, Params, the q/scales bindings and the unpacking: shaders/quant_block.wgsl
// (composed in front of this file, shared with the generated 128x128 quantized tile).
// A dispatch sees a row range ("part") of the weight: rows rowOffset .. rowOffset + Out of the whole
// tensor, bound as views that start at that part's first row. A tensor larger than one storage
// binding is covered by several dispatches, one per part (src/engine/kernels/matmul-q.ts).
//
// Entry points and bindings (0 is always the uniforms):
//   linear_fwd       out[n, rowOffset + o] (=|+=) sum_i inp[n, i] * W[o, i]           (x · Wᵀ)
//                    1 out (N, outStride) rw; 2 inp (N, In); 3 q; 4 scales
//   linear_fwd_bias  the same plus bias[rowOffset + o]; 5 bias (outStride)
//   linear_bwd_input dinp[n, i] (=|+=) sum_o dout[n, rowOffset + o] * W[o, i]         (dy · W)
//                    1 dinp (N, In) rw; 2 dout (N, outStride); 3 q; 4 scales
//   embedding        out[n, c] = W[ids[n] - rowOffset, c] for ids in this part; with flag set, ids
//                    >= totalRows give zeros. 1 out (N, In) rw; 2 ids (N) u32; 3 q; 4 scales
//
// Split-K (linear_bwd_input only): workgroup z = s reduces over this part's rows
// [s·kSlice, min(Out, (s+1)·kSlice)) (kSlice a multiple of 32, the last slice ragged) and stores its
// partial dinp, with flag = 0, at dst[(slot0 + s)·N·In + n·In + i]: the host binds a scratch buffer
// as dst, gives each part its own run of slots (slot0), and split_reduce (shaders/add.wgsl) then
// sums all slots in order into dinp, honouring accumulate (src/engine/kernels/matmul-q.ts). Unsplit:
// one workgroup layer (z = 0), kSlice >= Out, slot0 = 0: the plain product into dinp.
//
// Tiles: WG_M x WG_O threads, each computing 4 x 4 outputs (strided by the workgroup size, so
// neighbouring threads write neighbouring columns); K advances one quantization block (32) at a
// time. Shared memory: 2 * 32 * 4 * WG * 4 bytes = 16 KiB at the default 16 x 16. For
// linear_bwd_input the column tile 4 * WG_O must be a multiple of 32 (WG_O a multiple of 8).
// Large outputs use a 128x128-tile variant of linear_fwd / linear_fwd_bias / linear_bwd_input
// (same bindings and uniforms), generated WGSL in src/engine/kernels/matmul-tile128.ts.

@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;

override BITS: u32 = 4u;
override WG_M: u32 = 16u;
override WG_O: u32 = 16u;
override WG: u32 = 64u;

// The tile kernels' geometry (linear_fwd, linear_bwd_input) and the packing, from the overrides above.
override TM: u32 = 4u * WG_M;    // token rows of a tile
override TC: u32 = 4u * WG_O;    // columns of a tile (linear_fwd: weight rows o; linear_bwd_input: input columns i)
override NT: u32 = WG_M * WG_O;  // invocations of a tile workgroup
override VPW: u32 = 32u / BITS;  // values per packed word

const BLOCK: u32 = 32u;

// As holds the input tile k-major; row kk stores element m at column m ^ kk (an XOR swizzle: the
// staging store, where 32 neighbouring invocations write one m at 32 different kk, hits 32
// different banks instead of one; 4 * WG_M is a multiple of 32, so m ^ kk stays in the row).
var<workgroup> As: array<f32, BLOCK * TM>;
var<workgroup> Bs: array<f32, BLOCK * TC>;

fn bpr() -> u32 {
  return (p.In + BLOCK - 1u) / BLOCK;
}

// One k row of the staged tiles: this invocation's 4 x 4 outer product (rows lid.y + i·WG_M of As,
// columns lid.x + j·WG_O of Bs), accumulated as four vec4 rows (registers, no indexed arrays).
fn fma_row(kk: u32, lid: vec3<u32>, acc: ptr<function, array<vec4<f32>, 4>>) {
  let ar = kk * TM;
  let br = kk * TC + lid.x;
  let b = vec4<f32>(Bs[br], Bs[br + WG_O], Bs[br + 2u * WG_O], Bs[br + 3u * WG_O]);
  (*acc)[0] = fma(vec4<f32>(As[ar + (lid.y ^ kk)]), b, (*acc)[0]);
  (*acc)[1] = fma(vec4<f32>(As[ar + ((lid.y + WG_M) ^ kk)]), b, (*acc)[1]);
  (*acc)[2] = fma(vec4<f32>(As[ar + ((lid.y + 2u * WG_M) ^ kk)]), b, (*acc)[2]);
  (*acc)[3] = fma(vec4<f32>(As[ar + ((lid.y + 3u * WG_M) ^ kk)]), b, (*acc)[3]);
}

// Stages the input tile into As: token rows m0 .. m0 + TM - 1, the 32 columns k0 .. k0 + 31 of
// src rows laid out as src[n * stride + col0 + k] for k < cols (zeros past N and cols).
fn stage_as(t: u32, m0: u32, k0: u32, cols: u32, stride: u32, col0: u32) {
  for (var e = t; e < TM * BLOCK; e += NT) {
    let m = e / BLOCK;
    let kk = e % BLOCK;
    let n = m0 + m;
    let k = k0 + kk;
    var v = 0.0;
    if (n < p.N && k < cols) { v = src[n * stride + col0 + k]; }
    As[kk * TM + (m ^ kk)] = v;
  }
}

// x · Wᵀ for one 4*WG_M x 4*WG_O tile; returns this thread's 4 x 4 accumulators (row i, column j).
fn fwd_tile(lid: vec3<u32>, wid: vec3<u32>) -> array<vec4<f32>, 4> {
  let t = lid.y * WG_O + lid.x;
  let m0 = wid.y * TM;
  let o0 = wid.x * TC;
  let nb = bpr();
  let wpr = nb * BITS;
  var acc: array<vec4<f32>, 4>;
  for (var kb = 0u; kb < nb; kb++) {
    stage_as(t, m0, kb * BLOCK, p.In, p.In, 0u); // x (N, In)
    for (var e = t; e < TC * BITS; e += NT) {
      let o = e / BITS;
      let w = e % BITS;
      let row = o0 + o;
      if (row < p.Out) {
        let word = q[row * wpr + kb * BITS + w];
        let s = scales[row * nb + kb];
        for (var j = 0u; j < VPW; j++) { Bs[(w * VPW + j) * TC + o] = decode(word, j) * s; }
      } else {
        for (var j = 0u; j < VPW; j++) { Bs[(w * VPW + j) * TC + o] = 0.0; }
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BLOCK; kk++) { fma_row(kk, lid, &acc); }
    workgroupBarrier();
  }
  return acc;
}

// Writes this invocation's 4 x 4 outputs of the tile at token row m0, column c0: dst[base + n *
// stride + c] (=, or += when flag) acc, for rows n < N and columns c < cols.
fn store_tile(lid: vec3<u32>, m0: u32, c0: u32, cols: u32, base: u32, stride: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let n = m0 + lid.y + i * WG_M;
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + lid.x + j * WG_O;
      if (n < p.N && c < cols) {
        let idx = base + n * stride + c;
        var v = acc[i][j];
        if (p.flag != 0u) { v += dst[idx]; }
        dst[idx] = v;
      }
    }
  }
}

// linear_fwd's store: out (N, outStride), this part's columns from rowOffset.
fn store_fwd(lid: vec3<u32>, wid: vec3<u32>, acc: array<vec4<f32>, 4>) {
  store_tile(lid, wid.y * TM, wid.x * TC, p.Out, p.rowOffset, p.outStride, acc);
}

@compute @workgroup_size(WG_O, WG_M)
fn linear_fwd(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  store_fwd(lid, wid, fwd_tile(lid, wid));
}

@compute @workgroup_size(WG_O, WG_M)
fn linear_fwd_bias(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var acc = fwd_tile(lid, wid);
  // The bias of this invocation's 4 columns (read here: only this entry point binds it).
  var b = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let o = wid.x * TC + lid.x + j * WG_O;
    if (o < p.Out) { b[j] = bias[p.rowOffset + o]; }
  }
  for (var i = 0u; i < 4u; i++) { acc[i] += b; }
  store_fwd(lid, wid, acc);
}

@compute @workgroup_size(WG_O, WG_M)
fn linear_bwd_input(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let BT = TC / BLOCK;
  let t = lid.y * WG_O + lid.x;
  let m0 = wid.y * TM;
  let i0 = wid.x * TC;
  let nb = bpr();
  let wpr = nb * BITS;
  var acc: array<vec4<f32>, 4>;
  // Reduction slice wid.z: whole blocks of 32 rows, so staging never reaches into the next slice.
  let r_begin = wid.z * p.kSlice;
  let r_end = min(p.Out, r_begin + p.kSlice);
  for (var r0 = r_begin; r0 < r_end; r0 += BLOCK) {
    stage_as(t, m0, r0, p.Out, p.outStride, p.rowOffset); // dout (N, outStride), this part's columns
    for (var e = t; e < BLOCK * BT * BITS; e += NT) {
      let kk = e / (BT * BITS);
      let rem = e % (BT * BITS);
      let bt = rem / BITS;
      let w = rem % BITS;
      let row = r0 + kk;
      let blk = i0 / BLOCK + bt;
      let c0 = bt * BLOCK + w * VPW;
      if (row < p.Out && blk < nb) {
        let word = q[row * wpr + blk * BITS + w];
        let s = scales[row * nb + blk];
        for (var j = 0u; j < VPW; j++) { Bs[kk * TC + c0 + j] = decode(word, j) * s; }
      } else {
        for (var j = 0u; j < VPW; j++) { Bs[kk * TC + c0 + j] = 0.0; }
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BLOCK; kk++) { fma_row(kk, lid, &acc); }
    workgroupBarrier();
  }
  store_tile(lid, m0, i0, p.In, (p.slot0 + wid.z) * p.N * p.In, p.In, acc); // dinp (N, In) in slot slot0 + z
}

@compute @workgroup_size(WG)
fn embedding(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let nb = bpr();
  let wpr = nb * BITS;
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= p.N * wpr) { return; }
  let n = e / wpr;
  let w = e % wpr;
  let id = ids[n];
  let c0 = w * VPW;
  if (id >= p.rowOffset && id < p.rowOffset + p.Out) {
    let r = id - p.rowOffset;
    let word = q[r * wpr + w];
    let s = scales[r * nb + w / BITS];
    for (var j = 0u; j < VPW; j++) {
      if (c0 + j < p.In) { dst[n * p.In + c0 + j] = decode(word, j) * s; }
    }
  } else if (p.flag != 0u && id >= p.totalRows) {
    for (var j = 0u; j < VPW; j++) {
      if (c0 + j < p.In) { dst[n * p.In + c0 + j] = 0.0; }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Matrix-vector products for decoding (a few token rows), where the tiles above would compute 64
// rows for one and leave most of the GPU idle.
//   linear_gemv       out[n, rowOffset + o] (=|+=) sum_i inp[n, i] * W[o, i]    bindings as linear_fwd
//   linear_gemv_bias  the same plus bias[rowOffset + o]                          bindings as linear_fwd_bias
// Workgroup (x + y * nwg.x) owns GR = 8 consecutive rows o of this part, token row n = wid.z.
// Invocation t reads words t, t + WG, ... of each owned row (neighbouring invocations read
// neighbouring words), dequantizes its 32/BITS values against inp, and scales the word's dot product
// by its block's scale; workgroup_sum4 (shaders/reduce.wgsl) then totals four rows per pass. Columns past In
// (the padded last block) are skipped.

const GR: u32 = 8u; // rows per workgroup: two vec4 accumulators, reduced in two passes

fn gemv_rows(lane: Lane, o0: u32, n: u32) -> array<vec4<f32>, 2> {
  let nb = bpr();
  let wpr = nb * BITS;
  let xb = n * p.In;
  var acc: array<vec4<f32>, 2>;
  for (var w = lane.li; w < wpr; w += WG) {
    let c0 = w * VPW;
    var xs: array<f32, 8>;
    for (var j = 0u; j < VPW; j++) {
      let c = c0 + j;
      xs[j] = select(0.0, src[xb + min(c, p.In - 1u)], c < p.In);
    }
    for (var r = 0u; r < GR; r++) {
      let o = o0 + r;
      if (o < p.Out) {
        let word = q[o * wpr + w];
        var s = 0.0;
        for (var j = 0u; j < VPW; j++) { s = fma(decode(word, j), xs[j], s); }
        acc[r / 4u][r % 4u] = fma(s, scales[o * nb + w / BITS], acc[r / 4u][r % 4u]);
      }
    }
  }
  return array<vec4<f32>, 2>(workgroup_sum4(lane, acc[0]), workgroup_sum4(lane, acc[1]));
}

fn gemv_store(o: u32, n: u32, y: f32) {
  let i = n * p.outStride + p.rowOffset + o;
  if (p.flag != 0u) { dst[i] = dst[i] + y; } else { dst[i] = y; }
}

@compute @workgroup_size(WG)
fn linear_gemv(lane: Lane, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o0 = (wid.x + wid.y * nwg.x) * GR;
  let sums = gemv_rows(lane, o0, wid.z);
  let r = lane.li;
  if (r < GR && o0 + r < p.Out) { gemv_store(o0 + r, wid.z, sums[r / 4u][r % 4u]); }
}

@compute @workgroup_size(WG)
fn linear_gemv_bias(lane: Lane, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o0 = (wid.x + wid.y * nwg.x) * GR;
  let sums = gemv_rows(lane, o0, wid.z);
  let r = lane.li;
  if (r < GR && o0 + r < p.Out) { gemv_store(o0 + r, wid.z, sums[r / 4u][r % 4u] + bias[p.rowOffset + o0 + r]); }
}
