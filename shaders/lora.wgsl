// LoRA adapter on a frozen linear layer, as PEFT's lora.Linear (peft/tuners/lora/layer.py):
//   y += scale · (dropout(x) · Aᵀ) · Bᵀ,   A (r,In) = lora_A.weight, B (Out,r) = lora_B.weight,
//   scale = lora_alpha / r (or / sqrt(r) for rsLoRA), dropout = nn.Dropout(p) on the input.
// h = dropout(x)·Aᵀ (N,r) is saved for backward. Dropout mask (deterministic, recomputed in backward):
//   keep flat element i of x (N,In)  ⇔  (hash(seed, site, i) >> 8) >= ceil(p · 2^24)
//   i.e. a uniform 24-bit float in [0,1) >= p; kept values are scaled by 1/(1−p).
//   hash = pcg(pcg(i ^ key) + key), key = pcg(seed ^ pcg(site)), pcg = PCG-RXS-M-XS 32 (O'Neill).
// With DROPOUT = false (p == 0) no mask is computed at all.
//
// Every entry point is one tiled GEMM C (M,Nc) = alpha · A (M,K) · B (K,Nc) over dense buffers:
//   entry            C (M,Nc)      A                     B                       C is
//   lora_down        h (N,r)       inp (N,In) ⊙ mask     Aᵀ: b = A (r,In)        written, alpha = 1/(1−p)
//   lora_up          out (N,Out)   h (N,r)               Bᵀ: b = B (Out,r)       accumulated, alpha = scale
//   lora_grad_b      dB (Out,r)    doutᵀ: a = dout (N,Out)  h (N,r)              written/accumulated, alpha = scale
//   lora_grad_h      dh (N,r)      dout (N,Out)          B (Out,r)               written, alpha = scale
//   lora_grad_a      dA (r,In)     dhᵀ: a = dh (N,r)     inp (N,In) ⊙ mask       written/accumulated, alpha = 1/(1−p)
//   lora_grad_input  dinp (N,In)   dh (N,r)              A (r,In)                accumulated ⊙ mask, alpha = 1/(1−p)
// Reductions over the N tokens (lora_grad_b, lora_grad_a) are tiled over N through workgroup memory.
// Each workgroup computes a TILE_M x TILE_N tile of C (each thread 4x4; staging, FMA block and
// store: shaders/gemm_tile.wgsl, composed in front of this file); the host sizes the tile
// dimension that spans r to r (8..64). Tiles are folded over a 2D grid (x + y * num_workgroups.x).
//
// Split-K (lora_down, lora_grad_h, lora_grad_a, lora_grad_b: the skinny products whose reduction is
// long and whose C has few tiles): workgroup t computes tile t % tiles over the reduction slice
// s = t / tiles, k in [s·k_slice, min(K, (s+1)·k_slice)) (k_slice a multiple of TILE_K, the last
// slice ragged). With slices = 1 this is the plain GEMM above. With slices > 1 the host binds a
// scratch buffer as c and passes alpha = 1, accumulate = 0: slice s writes its partial tile to
// c[s·slice_stride + m·Nc + n]; then split_reduce (shaders/add.wgsl) sums the partials into the
// real C in slice order 0..slices−1 and applies alpha and accumulate as above.
// The dropout mask depends only on the flat element index, never on the split.
//
// bindings: 0 uniforms Params
//           1 c    read_write (C above)
//           2 a    read       (A above)
//           3 b    read       (B above)
//           4 seed u32 read, element 0 = the step's dropout seed (lora_down, lora_grad_a, lora_grad_input)

// struct Params: shaders/gemm_params.wgsl (shared with the frozen linears' GEMMs).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> seed: array<u32>;

override DROPOUT: bool = false;

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn dropout_key(step_seed: u32, site: u32) -> u32 {
  return pcg(step_seed ^ pcg(site));
}

fn keep(i: u32, key: u32) -> bool {
  return (pcg(pcg(i ^ key) + key) >> 8u) >= p.keep_threshold;
}

// gemm_tile.wgsl's operands and mask.
fn gemm_a(i: u32) -> f32 { return a[i]; }
fn gemm_b(i: u32) -> f32 { return b[i]; }
fn gemm_keep(i: u32, key: u32) -> bool { return keep(i, key); }

// This workgroup's tile of C and reduction slice.
struct Tile {
  m0: u32,
  n0: u32,
  k_begin: u32,
  k_end: u32,
  base: u32,  // offset of the slice's partial tile in c
}

fn begin_tile(wid: vec3<u32>, nwg: vec3<u32>) -> Tile {
  let w = wid.x + wid.y * nwg.x;
  let t = w % p.tiles;
  let s = w / p.tiles;
  let k_begin = s * p.k_slice;
  return Tile((t % p.tiles_m) * TILE_M, (t / p.tiles_m) * TILE_N, k_begin, min(p.K, k_begin + p.k_slice), s * p.slice_stride);
}

fn out_of_grid(wid: vec3<u32>, nwg: vec3<u32>) -> bool {
  return wid.x + wid.y * nwg.x >= p.tiles * p.slices;
}

fn step_key() -> u32 {
  var key = 0u;
  if (DROPOUT) { key = dropout_key(seed[0], p.site); }
  return key;
}

// One tile (and reduction slice) of an entry point's GEMM: gemm_tile.wgsl's gemm_loop with these
// staging orders and masks, then C (=|+=) alpha · acc; drop_c: the mask on C (lora_grad_input).
fn lora_tile(g: Wg, t: Inv, a_km: bool, b_nn: bool, drop_a: bool, drop_b: bool, drop_c: bool, key: u32) {
  if (out_of_grid(g.wid, g.nwg)) { return; }
  let o = begin_tile(g.wid, g.nwg);
  gemm_loop(o.m0, o.n0, o.k_begin, o.k_end, t, a_km, b_nn, drop_a, drop_b, key);
  store_tile(o.m0, o.n0, o.base, t.lid.x, t.lid.y, p.alpha, vec4<f32>(0.0), drop_c, key);
}

// Arguments: a_km, b_nn, drop_a, drop_b, drop_c, key (step_key() only where a mask may apply: it
// reads the seed binding, which the other entry points do not bind).
@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn lora_down(g: Wg, t: Inv) { lora_tile(g, t, false, false, DROPOUT, false, false, step_key()); }

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn lora_up(g: Wg, t: Inv) { lora_tile(g, t, false, false, false, false, false, 0u); }

// lora_up for a few token rows (decoding), where a tile would compute 64 rows for one: one
// invocation per element of C, c[m, n] (=|+=) alpha · Σ_k a[m, k] b[n, k] (K = r, short); the
// element index is folded over a 2D grid of 64-invocation workgroups. Bindings as lora_up.
@compute @workgroup_size(64)
fn lora_up_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 64u;
  if (e >= p.M * p.Nc) { return; }
  let m = e / p.Nc;
  let n = e - m * p.Nc;
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) { s = fma(a[m * p.K + k], b[n * p.K + k], s); }
  var v = p.alpha * s;
  if (p.accumulate != 0u) { v += c[e]; }
  c[e] = v;
}

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn lora_grad_b(g: Wg, t: Inv) { lora_tile(g, t, true, true, false, false, false, 0u); }

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn lora_grad_h(g: Wg, t: Inv) { lora_tile(g, t, false, true, false, false, false, 0u); }

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn lora_grad_a(g: Wg, t: Inv) { lora_tile(g, t, true, true, false, DROPOUT, false, step_key()); }

@compute @workgroup_size(TILE_N / 4u, TILE_M / 4u)
fn lora_grad_input(g: Wg, t: Inv) { lora_tile(g, t, false, true, false, false, DROPOUT, step_key()); }
