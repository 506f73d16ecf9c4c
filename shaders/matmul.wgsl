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
// Each workgroup computes a TILE_M x TILE_N tile of C (staging, FMA block and store: shaders/
// gemm_tile.wgsl, composed in front of this file). The tile index is folded over a 2D grid
// (x + y * num_workgroups.x) so the LM head (Out up to ~150k) never exceeds
// maxComputeWorkgroupsPerDimension.
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

// struct Params: shaders/gemm_params.wgsl (shared with lora.wgsl and the generated 128 tile);
// alpha = 1, slices = workgroups in z.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// gemm_tile.wgsl's operands: A = a, B = w (read as the entry point stages it); no dropout.
fn gemm_a(i: u32) -> f32 { return a[i]; }
fn gemm_b(i: u32) -> f32 { return w[i]; }
fn gemm_keep(i: u32, key: u32) -> bool { return true; }

// The tile this workgroup owns: M-tiles vary fastest, so neighbouring workgroups share a B tile.
fn tile_origin(wid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let t = wid.x + wid.y * nwg.x;
  return vec2<u32>((t % p.tiles_m) * TILE_M, (t / p.tiles_m) * TILE_N);
}

fn outside(g: Wg) -> bool {
  return g.wid.x + g.wid.y * g.nwg.x >= p.tiles;
}

// acc = the forward product's tile (x·Wᵀ: B[k][n] = W[n][k]); returns its origin.
fn forward_acc(g: Wg, t: Inv) -> vec2<u32> {
  let o = tile_origin(g.wid, g.nwg);
  gemm_loop(o.x, o.y, 0u, p.K, t, false, false, false, false, 0u);
  return o;
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn linear_forward(g: Wg, t: Inv) {
  if (outside(g)) { return; }
  let o = forward_acc(g, t);
  store_tile(o.x, o.y, 0u, t.lid.x, t.lid.y, p.alpha, vec4<f32>(0.0), false, 0u);
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn linear_forward_bias(g: Wg, t: Inv) {
  if (outside(g)) { return; }
  let o = forward_acc(g, t);
  var b4 = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let gn = o.y + 4u * t.lid.x + j;
    if (gn < p.Nc) { b4[j] = bias[gn]; }
  }
  store_tile(o.x, o.y, 0u, t.lid.x, t.lid.y, p.alpha, b4, false, 0u);
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn linear_backward_input(g: Wg, t: Inv) {
  if (outside(g)) { return; }
  let o = tile_origin(g.wid, g.nwg);
  // Reduction slice wid.z. Its TILE_K steps never reach into the next slice (k_slice is a multiple
  // of TILE_K); only the last slice is ragged, and the staging loads zeros past K.
  let k_begin = g.wid.z * p.k_slice;
  gemm_loop(o.x, o.y, k_begin, min(p.K, k_begin + p.k_slice), t, false, true, false, false, 0u);
  store_tile(o.x, o.y, g.wid.z * p.slice_stride, t.lid.x, t.lid.y, p.alpha, vec4<f32>(0.0), false, 0u);
}
