// Frozen linear layer: torch.nn.Linear as used by transformers' modeling_llama / modeling_qwen3
// (q/k/v/o_proj, gate/up/down_proj, lm_head). PyTorch weight layout: W is (Out, In).
//
//   linear_forward, linear_forward_bias:  out (N,Out) = inp (N,In) · Wᵀ [+ bias]   (written, or
//                                         accumulated into out when accumulate != 0)
//   linear_backward_input:                dinp (N,In) = dout (N,Out) · W           (written, or
//                                         accumulated into dinp when accumulate != 0)
// No weight gradient: the base weights are frozen (only LoRA adapters train).
// Large outputs use a 128x128-tile variant of these entry points instead (same bindings and
// uniforms), generated WGSL in src/engine/kernels/matmul-tile128.ts; this file is the 64x64 tile.
//
// Both are one tiled GEMM C (M,Nc) = A (M,K) · B (K,Nc) with A row-major:
//   forward:  M = N, Nc = Out, K = In,  A = inp,  B[k][n] = W[n*In + k]   ("NT")
//   backward: M = N, Nc = In,  K = Out, A = dout, B[k][n] = W[k*In + n]   ("NN")
// Each workgroup computes a TILE_M x TILE_N tile of C, each thread a 4x4 block of it, staging
// TILE_K-deep slices of A and B in workgroup memory. Loads and stores are bounds-checked, so any
// M, Nc, K works. The tile index is folded over a 2D grid (x + y * num_workgroups.x) so the LM
// head (Out up to ~150k) never exceeds maxComputeWorkgroupsPerDimension.
//
// Split-K (linear_backward_input only; the LM head's backward has few output tiles and a reduction
// over the whole vocabulary): workgroup z = s computes its tile over the reduction slice
// k in [s·k_slice, min(K, (s+1)·k_slice)) (k_slice a multiple of TILE_K, the last slice ragged) and
// stores it at c[s·slice_stride + m·Nc + n]. With one slice (z = 0, k_slice = K, slice_stride = 0)
// this is the plain GEMM above. With more, the host binds a scratch buffer as c with accumulate = 0,
// then split_reduce (shaders/add.wgsl) sums the partials in slice order into dinp, honouring the
// accumulate flag (src/engine/kernels/matmul.ts). The forward entry points ignore k_slice and
// slice_stride.
//
// bindings: 0 uniforms Params
//           1 c    (M, Nc)  read_write: out (forward) or dinp (backward)
//           2 a    (M, K)   read:       inp (forward) or dout (backward)
//           3 w    (Out, In) read:      the weight
//           4 bias (Out)    read:       linear_forward_bias only

struct Params {
  M: u32,
  Nc: u32,
  K: u32,
  tiles_m: u32,     // ceil(M / TILE_M)
  tiles: u32,       // tiles_m * ceil(Nc / TILE_N)
  accumulate: u32,  // 1: c += result, 0: c = result
  k_slice: u32,     // linear_backward_input: reduction length per slice (K when unsplit)
  slice_stride: u32,  // linear_backward_input: floats between slices' partials in c (0 when unsplit)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// Tile sizes. Each thread owns a 4x4 block, so the workgroup is (TILE_N/4, TILE_M/4) threads;
// TILE_M and TILE_N must be multiples of 4.
override TILE_M: u32 = 64;
override TILE_N: u32 = 64;
override TILE_K: u32 = 16;

const SA_PAD: u32 = 1u;  // one vec4 of padding per k-row against bank conflicts on stores
override SA: u32 = TILE_M / 4u + SA_PAD;  // row stride of As, in vec4
override SB: u32 = TILE_N / 4u + SA_PAD;  // row stride of Bs, in vec4
override THREADS: u32 = (TILE_M / 4u) * (TILE_N / 4u);

// As[k*SA + m/4][m%4] = A[m0+m][k0+k];  Bs[k*SB + n/4][n%4] = B[k0+k][n0+n]
var<workgroup> As: array<vec4<f32>, TILE_K * SA>;
var<workgroup> Bs: array<vec4<f32>, TILE_K * SB>;
var<private> acc: array<vec4<f32>, 4>;  // acc[i][j] = C[m0 + 4*ty + i][n0 + 4*tx + j]

// A (M,K) row-major; consecutive threads read consecutive k.
fn stage_a(m0: u32, k0: u32, li: u32) {
  for (var e = li; e < TILE_M * TILE_K; e += THREADS) {
    let m = e / TILE_K;
    let k = e % TILE_K;
    let gm = m0 + m;
    let gk = k0 + k;
    var v = 0.0;
    if (gm < p.M && gk < p.K) { v = a[gm * p.K + gk]; }
    As[k * SA + m / 4u][m % 4u] = v;
  }
}

// B[k][n] = w[n*K + k] (forward: W rows are output columns); consecutive threads read consecutive k.
fn stage_b_nt(n0: u32, k0: u32, li: u32) {
  for (var e = li; e < TILE_N * TILE_K; e += THREADS) {
    let n = e / TILE_K;
    let k = e % TILE_K;
    let gn = n0 + n;
    let gk = k0 + k;
    var v = 0.0;
    if (gn < p.Nc && gk < p.K) { v = w[gn * p.K + gk]; }
    Bs[k * SB + n / 4u][n % 4u] = v;
  }
}

// B[k][n] = w[k*Nc + n] (backward); consecutive threads read consecutive n.
fn stage_b_nn(n0: u32, k0: u32, li: u32) {
  for (var e = li; e < TILE_N * TILE_K; e += THREADS) {
    let k = e / TILE_N;
    let n = e % TILE_N;
    let gn = n0 + n;
    let gk = k0 + k;
    var v = 0.0;
    if (gn < p.Nc && gk < p.K) { v = w[gk * p.Nc + gn]; }
    Bs[k * SB + n / 4u][n % 4u] = v;
  }
}

fn fma_tile(tx: u32, ty: u32) {
  for (var k = 0u; k < TILE_K; k++) {
    let av = As[k * SA + ty];
    let bv = Bs[k * SB + tx];
    acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
    acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
    acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
    acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
  }
}

// bias4: the bias of this thread's 4 columns (zero without bias). base: offset of the (partial) C in c.
fn store_c(m0: u32, n0: u32, base: u32, tx: u32, ty: u32, bias4: vec4<f32>) {
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + 4u * ty + i;
    if (gm >= p.M) { return; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + 4u * tx + j;
      if (gn >= p.Nc) { break; }
      let idx = base + gm * p.Nc + gn;
      var v = acc[i][j] + bias4[j];
      if (p.accumulate != 0u) { v += c[idx]; }
      c[idx] = v;
    }
  }
}

// The tile this workgroup owns: M-tiles vary fastest, so neighbouring workgroups share a B tile.
fn tile_origin(wid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let t = wid.x + wid.y * nwg.x;
  return vec2<u32>((t % p.tiles_m) * TILE_M, (t / p.tiles_m) * TILE_N);
}

fn zero_acc() {
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn linear_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  if (wid.x + wid.y * nwg.x >= p.tiles) { return; }
  let o = tile_origin(wid, nwg);
  zero_acc();
  for (var k0 = 0u; k0 < p.K; k0 += TILE_K) {
    stage_a(o.x, k0, li);
    stage_b_nt(o.y, k0, li);
    workgroupBarrier();
    fma_tile(lid.x, lid.y);
    workgroupBarrier();
  }
  store_c(o.x, o.y, 0u, lid.x, lid.y, vec4<f32>(0.0));
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn linear_forward_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  if (wid.x + wid.y * nwg.x >= p.tiles) { return; }
  let o = tile_origin(wid, nwg);
  zero_acc();
  for (var k0 = 0u; k0 < p.K; k0 += TILE_K) {
    stage_a(o.x, k0, li);
    stage_b_nt(o.y, k0, li);
    workgroupBarrier();
    fma_tile(lid.x, lid.y);
    workgroupBarrier();
  }
  var b4 = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let gn = o.y + 4u * lid.x + j;
    if (gn < p.Nc) { b4[j] = bias[gn]; }
  }
  store_c(o.x, o.y, 0u, lid.x, lid.y, b4);
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn linear_backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  if (wid.x + wid.y * nwg.x >= p.tiles) { return; }
  let o = tile_origin(wid, nwg);
  zero_acc();
  // Reduction slice wid.z. Its TILE_K steps never reach into the next slice (k_slice is a multiple
  // of TILE_K); only the last slice is ragged, and stage_* load zeros past K.
  let k_begin = wid.z * p.k_slice;
  let k_end = min(p.K, k_begin + p.k_slice);
  for (var k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    stage_a(o.x, k0, li);
    stage_b_nn(o.y, k0, li);
    workgroupBarrier();
    fma_tile(lid.x, lid.y);
    workgroupBarrier();
  }
  store_c(o.x, o.y, wid.z * p.slice_stride, lid.x, lid.y, vec4<f32>(0.0));
}
