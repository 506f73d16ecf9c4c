// Causal scaled-dot-product attention with grouped-query heads, flash-style (online softmax over key
// tiles in workgroup memory; no (T, T) score matrix in global memory), forward and backward.
// transformers: LlamaAttention + sdpa_attention_forward (is_causal, attention_mask from padding):
//   query head h uses kv head h / (Hq / Hkv) (repeat_kv); key j is visible to query i iff
//   start_i <= j <= i and mask[b*T + j] == 1, where start_i = i - pos[b*T + i] is the first token of
//   query i's example (packing: several examples share a row, each attending only to itself, as
//   flash-attention's variable-length kernels do; pos = 0..T-1 gives plain causal attention). A
//   padded query row still attends to the valid keys of its range, and a row with no visible key
//   outputs 0 with lse 0.
//   pos must restart at 0 or count up by 1 from token to token (start_i never decreases along a
//   row): the dk/dv kernel stops at the first query tile that starts after its key tile.
//   A sliding window W (window > 0; Mistral, Gemma's sliding layers) moves the start up to
//   i - W + 1 (query i sees keys i-W+1..i within its example): start_i = i - min(pos_i, i, W - 1)
//   still never decreases, so the tiles wholly outside the window are skipped, not only masked.
//   Soft-capping (softcap > 0, Gemma 2): scores become cap * tanh(s / cap) before the softmax.
//   S[i,j]   = cap(scale * q_i . k_j)               (visible pairs only; cap(s) = s without softcap)
//   lse[i]   = log sum_j exp(S[i,j])               (0 for a row with no visible key)
//   out[i]   = sum_j exp(S[i,j] - lse[i]) v_j
// Backward (FlashAttention-2, recomputing P from lse):
//   Di       = rowsum(dout_i * out_i)
//   P[i,j]   = exp(S[i,j] - lse[i]);  dP[i,j] = dout_i . v_j;  dS[i,j] = P[i,j] (dP[i,j] - Di) cap'[i,j]
//   with cap' = 1 - (S / cap)^2 (the tanh's derivative; 1 without softcap)
//   dv_j     = sum_i P[i,j] dout_i;   dk_j = scale sum_i dS[i,j] q_i;   dq_i = scale sum_j dS[i,j] k_j
//   (dk, dv sum over the query heads of their group).
//
// Layout: f32 row-major, tokens n = b*T + t; q, out, dout, dq: (B*T, Hq*D); k, v, dk, dv:
// (B*T, Hkv*D) (heads contiguous per token); lse: (B, Hq, T); mask: u32 (B*T), 1 token, 0 padding;
// pos: i32 (B*T), each token's position within its example.
//
// attn_forward  grid (ceil(T/BQ), Hq, B), WG = BQ*TPR: BQ query rows per workgroup, TPR threads per
// row each owning D/TPR output dims in registers; key tiles of BK rows from the first start of
// the tile's rows (earlier key blocks are skipped) to the diagonal. In the score steps (all
// kernels) invocation tid takes key tid % BK against NS rows tid / BK + RS*it, so one k (and v)
// load from workgroup memory serves NS rows; keys that are padding or past the tile skip the dots.
//   bindings: 0 uniforms {B, T, Hq, Hkv, D, scale, window, softcap};
//   1 out (B*T, Hq*D) written; 2 lse (B, Hq, T) written; 3 q read; 4 k read; 5 v read; 6 mask read;
//   7 pos read.
//
// Backward, three dispatches; bindings in the TS order: 0 uniforms {B, T, Hq, Hkv, D, scale, window, softcap};
//   1 dq (B*T, Hq*D); 2 dk (B*T, Hkv*D); 3 dv (B*T, Hkv*D); 4 dout (B*T, Hq*D); 5 out (B*T, Hq*D);
//   6 lse (B, Hq, T); 7 q; 8 k; 9 v; 10 mask; 11 pos.
// attn_backward_prep  one invocation per (token, query head): dq[n, h, 0] = lse, dq[n, h, 1] = Di,
//   dq[n, h, 2] = start_n as an f32 (exact below 2^24) (dq doubles as scratch, so that no dispatch
//   needs more than 8 storage buffers: the other two read pos from there; D >= 3).
//   uses 1 dq written (scratch), 4 dout, 5 out, 6 lse, 11 pos read.
// attn_backward_dkdv  grid (ceil(T/BK), Hkv, B), WG = BK*TPR: BK key rows per workgroup, looping
//   over the query heads of the group and the query tiles (BQ rows) from the key tile up to the
//   first tile whose rows all start after the key tile's last key.
//   uses 1 dq read (scratch lse, Di, start; bound read-write like the other two); 2 dk, 3 dv written
//   (overwritten); 4 dout, 7 q, 8 k, 9 v, 10 mask read.
// attn_backward_dq  grid (ceil(T/BQ), Hq, B), WG = BQ*TPR: as the forward, key tiles from the rows'
//   first start up to the diagonal.
//   uses 1 dq read (its own rows' scratch) then written (overwritten); 4 dout, 7 q, 8 k, 9 v, 10 mask read.

struct Params { B: u32, T: u32, Hq: u32, Hkv: u32, D: u32, scale: f32, window: u32, softcap: f32 }

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 128u;  // invocations per workgroup
override BQ: u32 = 16u;   // query rows per tile
override BK: u32 = 16u;   // key rows per tile
override TPR: u32 = 8u;   // invocations per owned row (WG = BQ*TPR, or BK*TPR for dkdv)
override KS: u32 = 65u;   // row stride of the tiles in workgroup memory: D + 1 (no bank conflicts)
override NPT: u32 = 8u;   // ceil(D / TPR): dims each invocation owns, at most NMAX
override NS: u32 = 2u;    // ceil(BQ*BK / WG): score pairs per invocation, at most NSMAX
override RS: u32 = WG / BK; // in the pair steps invocation tid takes key tid % BK, rows tid / BK + RS*it
override QT: u32 = BQ * KS;
override KT: u32 = BK * KS;
override ST: u32 = BQ * BK;

const NMAX: u32 = 32u;
const NSMAX: u32 = 8u;
const NEG: f32 = -3.0e38; // "minus infinity" for scores and running maxima (finite: no inf - inf)

// Query qi (its example starting at token `start`) sees key kj with mask m.
fn visible(qi: u32, start: u32, kj: u32, m: u32) -> bool {
  return start <= kj && kj <= qi && qi < p.T && m == 1u;
}

// The first key token t sees: its example's first token (its position clamped into 0..t), or
// t - W + 1 when the sliding window W is narrower.
fn start_of(t: u32, pos: i32) -> u32 {
  var back = min(u32(max(pos, 0)), t);
  if (p.window > 0u) { back = min(back, p.window - 1u); }
  return t - back;
}

// tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}): no overflow for any x.
fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

// A scaled score after soft-capping (cap * tanh(s / cap); s itself without softcap).
fn capped(s: f32) -> f32 {
  if (p.softcap > 0.0) { return p.softcap * tanh_safe(s / p.softcap); }
  return s;
}

// d capped / d s at a capped score c: 1 - (c / cap)^2 (1 without softcap).
fn capped_grad(c: f32) -> f32 {
  if (p.softcap > 0.0) { return 1.0 - (c / p.softcap) * (c / p.softcap); }
  return 1.0;
}

// The tiles in workgroup memory, shared by name between the kernels so that the helpers below serve
// all three (each entry point allocates only the ones it uses; attentionSharedBytes mirrors that).
var<workgroup> s_q: array<f32, QT>;     // q rows (BQ, D), row stride KS
var<workgroup> s_do: array<f32, QT>;    // dout rows (backward)
var<workgroup> s_lse: array<f32, BQ>;   // the rows' lse and Di (backward)
var<workgroup> s_di: array<f32, BQ>;
var<workgroup> s_start: array<u32, BQ>; // each row's example start (T past the last row)
var<workgroup> s_k: array<f32, KT>;     // k rows (BK, D); the forward refills it with the v rows
var<workgroup> s_v: array<f32, KT>;     // v rows (backward)
var<workgroup> s_mask: array<u32, BK>;
var<workgroup> s_first: u32;            // the first key any staged row sees

// Element e of a (rows, D) tile of head `head` staged from token t0 of row b of a (B*T, heads*D)
// tensor: its slot in the tile (row stride KS), its index in the tensor, and whether its token is
// before T (the tile holds 0 past T).
struct TileElem { slot: u32, at: u32, live: bool }

fn tile_elem(e: u32, b: u32, t0: u32, heads: u32, head: u32) -> TileElem {
  let rr = e / p.D;
  let d = e - rr * p.D;
  return TileElem(rr * KS + d, (b * p.T + t0 + rr) * heads * p.D + head * p.D + d, t0 + rr < p.T);
}

// The first key any staged row sees: the least of s_start (the caller has written it).
fn first_key_of_rows(tid: u32) -> u32 {
  workgroupBarrier();
  if (tid == 0u) {
    var st = p.T;
    for (var rr = 0u; rr < BQ; rr++) { st = min(st, s_start[rr]); }
    s_first = st;
  }
  return workgroupUniformLoad(&s_first);
}

// ---------------------------------------------------------------------------------------------
// Forward

@group(0) @binding(1) var<storage, read_write> f_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_lse: array<f32>;
@group(0) @binding(3) var<storage, read> f_q: array<f32>;
@group(0) @binding(4) var<storage, read> f_k: array<f32>;
@group(0) @binding(5) var<storage, read> f_v: array<f32>;
@group(0) @binding(6) var<storage, read> f_mask: array<u32>;
@group(0) @binding(7) var<storage, read> f_pos: array<i32>;

var<workgroup> f_ss: array<f32, ST>;   // scores, then probabilities (BQ, BK)

@compute @workgroup_size(WG)
fn attn_forward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let T = p.T;
  let D = p.D;
  let q0 = wg.x * BQ;
  let h = wg.y;
  let b = wg.z;
  let hk = h / (p.Hq / p.Hkv);
  let qs = p.Hq * D;
  let r = tid / TPR;
  let lane = tid % TPR;
  let qi = q0 + r;
  let jS = tid % BK;
  let iS = tid / BK;

  for (var e = tid; e < BQ * D; e += WG) {
    let el = tile_elem(e, b, q0, p.Hq, h);
    var x = 0.0;
    if (el.live) { x = f_q[el.at]; }
    s_q[el.slot] = x;
  }
  for (var rr = tid; rr < BQ; rr += WG) {
    var st = T;
    if (q0 + rr < T) { st = start_of(q0 + rr, f_pos[b * T + q0 + rr]); }
    s_start[rr] = st;
  }
  let kBegin = first_key_of_rows(tid);

  var o: array<f32, NMAX>;
  for (var k = 0u; k < NPT; k++) { o[k] = 0.0; }
  var m = NEG;
  var l = 0.0;
  let kEnd = min(T, q0 + BQ);
  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    workgroupBarrier(); // q tile loaded / previous v tile consumed
    for (var e = tid; e < BK * D; e += WG) {
      let el = tile_elem(e, b, k0, p.Hkv, hk);
      var x = 0.0;
      if (el.live) { x = f_k[el.at]; }
      s_k[el.slot] = x;
    }
    for (var j = tid; j < BK; j += WG) {
      var mk = 0u;
      if (k0 + j < T) { mk = f_mask[b * T + k0 + j]; }
      s_mask[j] = mk;
    }
    workgroupBarrier();
    {
      // Scores of key jS against rows iS, iS + RS, ...: one k load serves NS rows.
      var qk: array<f32, NSMAX>;
      for (var it = 0u; it < NS; it++) { qk[it] = 0.0; } // explicit: not every compiler re-zeroes a var in a loop
      let mk = s_mask[jS];
      if (mk == 1u && k0 + jS < q0 + BQ) { // a key no row of the tile sees is skipped
        for (var d = 0u; d < D; d++) {
          let kd = s_k[jS * KS + d];
          for (var it = 0u; it < NS; it++) { qk[it] += s_q[min(iS + it * RS, BQ - 1u) * KS + d] * kd; }
        }
      }
      for (var it = 0u; it < NS; it++) {
        let i = iS + it * RS;
        if (i < BQ) { f_ss[i * BK + jS] = select(NEG, capped(qk[it] * p.scale), visible(q0 + i, s_start[i], k0 + jS, mk)); }
      }
    }
    workgroupBarrier();
    var mt = m;
    for (var j = 0u; j < BK; j++) { mt = max(mt, f_ss[r * BK + j]); }
    workgroupBarrier(); // every lane has read its row's scores
    for (var j = lane; j < BK; j += TPR) {
      let sc = f_ss[r * BK + j];
      f_ss[r * BK + j] = select(0.0, exp(sc - mt), sc > NEG);
    }
    // The v tile replaces the k tile (one tile of workgroup memory for both).
    for (var e = tid; e < BK * D; e += WG) {
      let el = tile_elem(e, b, k0, p.Hkv, hk);
      var x = 0.0;
      if (el.live) { x = f_v[el.at]; }
      s_k[el.slot] = x;
    }
    workgroupBarrier();
    let alpha = exp(m - mt);
    var rs = 0.0;
    for (var k = 0u; k < NPT; k++) { o[k] *= alpha; }
    for (var j = 0u; j < BK; j++) {
      let pj = f_ss[r * BK + j];
      rs += pj;
      for (var k = 0u; k < NPT; k++) { o[k] += pj * s_k[j * KS + lane + k * TPR]; }
    }
    l = l * alpha + rs;
    m = mt;
  }

  if (qi < T) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let base = (b * T + qi) * qs + h * D;
    for (var k = 0u; k < NPT; k++) {
      let d = lane + k * TPR;
      if (d < D) { f_out[base + d] = o[k] * inv; }
    }
    if (lane == 0u) { f_lse[(b * p.Hq + h) * T + qi] = select(0.0, m + log(l), l > 0.0); }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward

@group(0) @binding(1) var<storage, read_write> g_dq: array<f32>; // dq, and the (lse, Di) scratch
@group(0) @binding(2) var<storage, read_write> g_dk: array<f32>;
@group(0) @binding(3) var<storage, read_write> g_dv: array<f32>;
@group(0) @binding(4) var<storage, read> g_dout: array<f32>;
@group(0) @binding(5) var<storage, read> g_out: array<f32>;
@group(0) @binding(6) var<storage, read> g_lse: array<f32>;
@group(0) @binding(7) var<storage, read> g_q: array<f32>;
@group(0) @binding(8) var<storage, read> g_k: array<f32>;
@group(0) @binding(9) var<storage, read> g_v: array<f32>;
@group(0) @binding(10) var<storage, read> g_mask: array<u32>;
@group(0) @binding(11) var<storage, read> g_pos: array<i32>;

// One invocation per (token n, query head h): dq[(n*Hq + h)*D + 0] = lse, [+1] = Di, [+2] = start.
@compute @workgroup_size(WG)
fn attn_backward_prep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG; // n*Hq + h
  if (idx >= p.B * p.T * p.Hq) { return; }
  let h = idx % p.Hq;
  let n = idx / p.Hq;
  let b = n / p.T;
  let t = n - b * p.T;
  let base = idx * p.D;
  var di = 0.0;
  for (var d = 0u; d < p.D; d++) { di += g_dout[base + d] * g_out[base + d]; }
  g_dq[base] = g_lse[(b * p.Hq + h) * p.T + t];
  g_dq[base + 1u] = di;
  g_dq[base + 2u] = f32(start_of(t, g_pos[n]));
}

// The backward kernels' own tiles (beside the shared ones above).
var<workgroup> b_sds: array<f32, ST>;  // dS (BQ, BK)
var<workgroup> b_sp: array<f32, ST>;   // P (BQ, BK), dkdv only
var<workgroup> b_live: u32;

// q and dout rows q0 .. q0+BQ-1 of query head h (zeros past T), with their lse, Di and start from
// the prep scratch in dq, into s_q, s_do, s_lse, s_di, s_start.
fn stage_q_rows(b: u32, q0: u32, h: u32, tid: u32) {
  let T = p.T;
  for (var e = tid; e < BQ * p.D; e += WG) {
    let el = tile_elem(e, b, q0, p.Hq, h);
    var x = 0.0;
    var y = 0.0;
    if (el.live) {
      x = g_q[el.at];
      y = g_dout[el.at];
    }
    s_q[el.slot] = x;
    s_do[el.slot] = y;
  }
  for (var rr = tid; rr < BQ; rr += WG) {
    var lse = 0.0;
    var di = 0.0;
    var st = T;
    if (q0 + rr < T) {
      let gi = (b * T + q0 + rr) * p.Hq * p.D + h * p.D;
      lse = g_dq[gi];
      di = g_dq[gi + 1u];
      st = u32(g_dq[gi + 2u]);
    }
    s_lse[rr] = lse;
    s_di[rr] = di;
    s_start[rr] = st;
  }
}

// k and v rows k0 .. k0+BK-1 of kv head hk (zeros past T) and their mask, into s_k, s_v, s_mask.
fn stage_kv_rows(b: u32, k0: u32, hk: u32, tid: u32) {
  let T = p.T;
  for (var e = tid; e < BK * p.D; e += WG) {
    let el = tile_elem(e, b, k0, p.Hkv, hk);
    var x = 0.0;
    var y = 0.0;
    if (el.live) {
      x = g_k[el.at];
      y = g_v[el.at];
    }
    s_k[el.slot] = x;
    s_v[el.slot] = y;
  }
  for (var j = tid; j < BK; j += WG) {
    var mk = 0u;
    if (k0 + j < T) { mk = g_mask[b * T + k0 + j]; }
    s_mask[j] = mk;
  }
}

// The staged pairs of this invocation, key jS against rows iS + it*RS (it < NS), as (P, dS):
//   P[i,j] = exp(S[i,j] - lse_i),  dS[i,j] = P[i,j] (dout_i.v_j - Di) cap'[i,j]   ((0, 0) where not visible)
// One k and v load from workgroup memory serves NS rows. The caller stores what it needs (the
// function touches no output tile, so each entry point allocates only the tiles it uses).
fn pair_p_ds(q0: u32, k0: u32, jS: u32, iS: u32) -> array<vec2<f32>, NSMAX> {
  var qk: array<f32, NSMAX>;
  var dov: array<f32, NSMAX>;
  for (var it = 0u; it < NS; it++) {
    qk[it] = 0.0;
    dov[it] = 0.0;
  }
  let mk = s_mask[jS];
  if (mk == 1u && k0 + jS < q0 + BQ) { // a key no row of the tile sees is skipped
    for (var d = 0u; d < p.D; d++) {
      let kd = s_k[jS * KS + d];
      let vd = s_v[jS * KS + d];
      for (var it = 0u; it < NS; it++) {
        let row = min(iS + it * RS, BQ - 1u) * KS + d;
        qk[it] += s_q[row] * kd;
        dov[it] += s_do[row] * vd;
      }
    }
  }
  var out: array<vec2<f32>, NSMAX>;
  for (var it = 0u; it < NS; it++) {
    let i = min(iS + it * RS, BQ - 1u);
    out[it] = vec2<f32>(0.0);
    if (visible(q0 + i, s_start[i], k0 + jS, mk)) {
      let sc = capped(qk[it] * p.scale);
      let pij = exp(sc - s_lse[i]);
      out[it] = vec2<f32>(pij, pij * (dov[it] - s_di[i]) * capped_grad(sc));
    }
  }
  return out;
}

@compute @workgroup_size(WG)
fn attn_backward_dq(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let T = p.T;
  let D = p.D;
  let q0 = wg.x * BQ;
  let h = wg.y;
  let b = wg.z;
  let hk = h / (p.Hq / p.Hkv);
  let r = tid / TPR;
  let lane = tid % TPR;
  let qi = q0 + r;

  stage_q_rows(b, q0, h, tid);
  storageBarrier(); // the scratch reads above come before this workgroup overwrites those dq rows
  let kBegin = first_key_of_rows(tid);

  var acc: array<f32, NMAX>;
  for (var k = 0u; k < NPT; k++) { acc[k] = 0.0; }
  let kEnd = min(T, q0 + BQ);
  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    workgroupBarrier();
    stage_kv_rows(b, k0, hk, tid);
    workgroupBarrier();
    {
      let jS = tid % BK;
      let pd = pair_p_ds(q0, k0, jS, tid / BK);
      for (var it = 0u; it < NS; it++) {
        let i = tid / BK + it * RS;
        if (i < BQ) { b_sds[i * BK + jS] = pd[it].y; }
      }
    }
    workgroupBarrier();
    for (var j = 0u; j < BK; j++) {
      let ds = b_sds[r * BK + j];
      for (var k = 0u; k < NPT; k++) { acc[k] += ds * s_k[j * KS + lane + k * TPR]; }
    }
  }

  if (qi < T) {
    let base = (b * T + qi) * p.Hq * D + h * D;
    for (var k = 0u; k < NPT; k++) {
      let d = lane + k * TPR;
      if (d < D) { g_dq[base + d] = acc[k] * p.scale; }
    }
  }
}

@compute @workgroup_size(WG)
fn attn_backward_dkdv(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let T = p.T;
  let D = p.D;
  let k0 = wg.x * BK;
  let hk = wg.y;
  let b = wg.z;
  let group = p.Hq / p.Hkv;
  let c = tid / TPR;
  let lane = tid % TPR;
  let kj = k0 + c;

  stage_kv_rows(b, k0, hk, tid);
  // A key tile that is all padding gets dk = dv = 0 without visiting any query tile.
  workgroupBarrier();
  if (tid == 0u) {
    var live = 0u;
    for (var j = 0u; j < BK; j++) { live = live | select(0u, 1u, s_mask[j] == 1u); }
    b_live = live;
  }
  let heads = select(0u, group, workgroupUniformLoad(&b_live) != 0u);

  var dk: array<f32, NMAX>;
  var dv: array<f32, NMAX>;
  for (var k = 0u; k < NPT; k++) {
    dk[k] = 0.0;
    dv[k] = 0.0;
  }
  for (var hh = 0u; hh < heads; hh++) {
    let h = hk * group + hh;
    for (var q0 = k0; q0 < T; q0 += BQ) {
      workgroupBarrier();
      stage_q_rows(b, q0, h, tid);
      workgroupBarrier();
      // Starts never decrease along a row: once this tile's first row starts after the key
      // tile's last key, neither it nor any later tile sees a key of this tile.
      if (workgroupUniformLoad(&s_start[0]) >= k0 + BK) { break; }
      {
        let jS = tid % BK;
        let pd = pair_p_ds(q0, k0, jS, tid / BK);
        for (var it = 0u; it < NS; it++) {
          let i = tid / BK + it * RS;
          if (i < BQ) {
            b_sp[i * BK + jS] = pd[it].x;
            b_sds[i * BK + jS] = pd[it].y;
          }
        }
      }
      workgroupBarrier();
      for (var i = 0u; i < BQ; i++) {
        let pv = b_sp[i * BK + c];
        let ds = b_sds[i * BK + c];
        for (var k = 0u; k < NPT; k++) {
          let d = lane + k * TPR;
          dv[k] += pv * s_do[i * KS + d];
          dk[k] += ds * s_q[i * KS + d];
        }
      }
    }
  }

  if (kj < T) {
    let base = (b * T + kj) * p.Hkv * D + hk * D;
    for (var k = 0u; k < NPT; k++) {
      let d = lane + k * TPR;
      if (d < D) {
        g_dk[base + d] = dk[k] * p.scale;
        g_dv[base + d] = dv[k];
      }
    }
  }
}
