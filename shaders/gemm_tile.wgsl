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

// A[m][k] = a[m*K + k]; consecutive threads read consecutive k.
fn stage_a_rm(m0: u32, k0: u32, li: u32, drop: bool, key: u32) {
  for (var e = li; e < TILE_M * TILE_K; e += THREADS) {
    let m = e / TILE_K;
    let k = e % TILE_K;
    let gm = m0 + m;
    let gk = k0 + k;
    var v = 0.0;
    if (gm < p.M && gk < p.K) {
      let i = gm * p.K + gk;
      v = masked(gemm_a(i), i, drop, key);
    }
    As[k * SA + m / 4u][m % 4u] = v;
  }
}

// A[m][k] = a[k*M + m] (a transposed operand); consecutive threads read consecutive m.
fn stage_a_km(m0: u32, k0: u32, li: u32) {
  for (var e = li; e < TILE_M * TILE_K; e += THREADS) {
    let k = e / TILE_M;
    let m = e % TILE_M;
    let gm = m0 + m;
    let gk = k0 + k;
    var v = 0.0;
    if (gm < p.M && gk < p.K) { v = gemm_a(gk * p.M + gm); }
    As[k * SA + m / 4u][m % 4u] = v;
  }
}

// B[k][n] = b[n*K + k] (a transposed operand, e.g. W rows as output columns); consecutive threads
// read consecutive k.
fn stage_b_nt(n0: u32, k0: u32, li: u32) {
  for (var e = li; e < TILE_N * TILE_K; e += THREADS) {
    let n = e / TILE_K;
    let k = e % TILE_K;
    let gn = n0 + n;
    let gk = k0 + k;
    var v = 0.0;
    if (gn < p.Nc && gk < p.K) { v = gemm_b(gn * p.K + gk); }
    Bs[k * SB + n / 4u][n % 4u] = v;
  }
}

// B[k][n] = b[k*Nc + n]; consecutive threads read consecutive n.
fn stage_b_nn(n0: u32, k0: u32, li: u32, drop: bool, key: u32) {
  for (var e = li; e < TILE_N * TILE_K; e += THREADS) {
    let k = e / TILE_N;
    let n = e % TILE_N;
    let gn = n0 + n;
    let gk = k0 + k;
    var v = 0.0;
    if (gn < p.Nc && gk < p.K) {
      let i = gk * p.Nc + gn;
      v = masked(gemm_b(i), i, drop, key);
    }
    Bs[k * SB + n / 4u][n % 4u] = v;
  }
}

// acc = the tile at (m0, n0) of A·B over k in [k_begin, k_end). A is staged row-major, or
// transposed with a_km; B transposed, or row-major with b_nn. drop_a / drop_b: the dropout mask
// on A (row-major only) or B (row-major only). The bounds are workgroup-uniform (barriers).
fn gemm_loop(m0: u32, n0: u32, k_begin: u32, k_end: u32, t: Inv, a_km: bool, b_nn: bool, drop_a: bool, drop_b: bool, key: u32) {
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    if (a_km) { stage_a_km(m0, k0, t.li); } else { stage_a_rm(m0, k0, t.li, drop_a, key); }
    if (b_nn) { stage_b_nn(n0, k0, t.li, drop_b, key); } else { stage_b_nt(n0, k0, t.li); }
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
