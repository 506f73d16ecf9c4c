// The 64-tile GEMM's inner parts, shared by lora.wgsl and matmul.wgsl (composed in front of them
// by src/engine/kernels/reductions.ts): one tiled C (M,Nc) = alpha · A (M,K) · B (K,Nc).
// Each workgroup computes a TILE_M x TILE_N tile of C, each thread a 4x4 block of it, staging
// TILE_K-deep slices of A and B in workgroup memory. Loads and stores are bounds-checked, so any
// M, Nc, K works.
//
// The including shader declares `p` with fields M, Nc, K, accumulate, the storage array `c`
// (C, read_write), and supplies:
//   fn gemm_a(i: u32) -> f32           flat element i of its A operand
//   fn gemm_b(i: u32) -> f32           flat element i of its B operand
//   fn gemm_keep(i: u32, key: u32) -> bool   whether flat element i survives a dropout mask (LoRA;
//                                      only called where the caller passes drop = true)

// Tile sizes. Each thread owns a 4x4 block, so the workgroup is (TILE_N/4, TILE_M/4) threads;
// TILE_M and TILE_N must be multiples of 4.
override TILE_M: u32 = 64;
override TILE_N: u32 = 64;
override TILE_K: u32 = 16;

override SA: u32 = TILE_M / 4u + 1u;  // row stride of As in vec4 (+1 against bank conflicts on stores)
override SB: u32 = TILE_N / 4u + 1u;  // row stride of Bs in vec4
override THREADS: u32 = (TILE_M / 4u) * (TILE_N / 4u);

// As[k*SA + m/4][m%4] = A[m0+m][k0+k];  Bs[k*SB + n/4][n%4] = B[k0+k][n0+n]
var<workgroup> As: array<vec4<f32>, TILE_K * SA>;
var<workgroup> Bs: array<vec4<f32>, TILE_K * SB>;
var<private> acc: array<vec4<f32>, 4>;  // acc[i][j] = C[m0 + 4*ty + i][n0 + 4*tx + j]

// The builtins of an entry point that runs a tile: the workgroup's (uniform, so the entry may
// return early on them before the loop's barriers) and the invocation's.
struct Wg {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
}

struct Inv {
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
}

// One staged value: element i of an operand, zeroed where drop and the mask drops it.
fn masked(v: f32, i: u32, drop: bool, key: u32) -> f32 {
  if (drop && !gemm_keep(i, key)) { return 0.0; }
  return v;
}

// Stages a TILE_K-deep slice (k0..) of A (b_side false: rows r0.. of A, TILE_M of them, M in
// all) into As, or of B (b_side true: columns r0.. of B, TILE_N of them, Nc in all) into Bs.
// The operand's element (r, k) is at r*K + k (consecutive threads read consecutive k), or with
// k_major at k*R + r (consecutive threads read consecutive r). drop: zero the elements the mask drops.
fn stage(b_side: bool, r0: u32, k0: u32, li: u32, k_major: bool, drop: bool, key: u32) {
  let R = select(TILE_M, TILE_N, b_side);
  let rows = select(p.M, p.Nc, b_side);
  for (var e = li; e < R * TILE_K; e += THREADS) {
    var r = e / TILE_K;
    var k = e % TILE_K;
    if (k_major) {
      r = e % R;
      k = e / R;
    }
    let gr = r0 + r;
    let gk = k0 + k;
    var v = 0.0;
    if (gr < rows && gk < p.K) {
      let i = select(gr * p.K + gk, gk * rows + gr, k_major);
      if (b_side) { v = gemm_b(i); } else { v = gemm_a(i); }
      v = masked(v, i, drop, key);
    }
    if (b_side) { Bs[k * SB + r / 4u][r % 4u] = v; } else { As[k * SA + r / 4u][r % 4u] = v; }
  }
}

// acc = the tile at (m0, n0) of A·B over k in [k_begin, k_end). A[m][k] is a[m*K + k], or
// a[k*M + m] with a_km; B[k][n] is b[n*K + k] (W's rows as output columns), or b[k*Nc + n] with
// b_nn. drop_a / drop_b: the dropout mask on A or B. The bounds are workgroup-uniform (barriers).
fn gemm_loop(m0: u32, n0: u32, k_begin: u32, k_end: u32, t: Inv, a_km: bool, b_nn: bool, drop_a: bool, drop_b: bool, key: u32) {
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    stage(false, m0, k0, t.li, a_km, drop_a, key);
    stage(true, n0, k0, t.li, b_nn, drop_b, key);
    workgroupBarrier();
    fma_tile(t.lid.x, t.lid.y);
    workgroupBarrier();
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

// c = (or += when p.accumulate) alpha · acc + bias4 (the bias of this thread's 4 columns; zero
// without), at the (partial) C at base. drop: elements of C the mask drops get nothing.
fn store_tile(m0: u32, n0: u32, base: u32, tx: u32, ty: u32, alpha: f32, bias4: vec4<f32>, drop: bool, key: u32) {
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + 4u * ty + i;
    if (gm >= p.M) { return; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + 4u * tx + j;
      if (gn >= p.Nc) { break; }
      let e = gm * p.Nc + gn;
      let idx = base + e;
      var v = masked(alpha * acc[i][j] + bias4[j], e, drop, key);
      if (p.accumulate != 0u) { v += c[idx]; }
      c[idx] = v;
    }
  }
}
