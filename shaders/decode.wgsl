// Incremental decoding with a KV cache (generation): RoPE at the cache position, appending k and v
// to the cache, and attention of a few new queries over the cache. The position comes from a small
// storage buffer written before each submit, so one recorded program serves every step.
//
// state: u32 [pos, count]: the N rows of this dispatch are the tokens at positions pos + i; only
//   rows i < count are real (a prefill chunk's tail is padding; decode steps have N = count = 1).
// Cache layout per layer: kc, vc (Hkv, Tmax, D), head-major so one head's keys are contiguous.
// Rows: q, att (N, Hq*D); k, v (N, Hkv*D): token-major, heads contiguous per token, as training.
//
// decode_rope       one invocation per (row, head, d < R/2): x rotated in place by the angles of
//   position pos + i (transformers' rotate_half, as rope.wgsl: the first R of D dims rotate, the
//   rest pass through); rows past Tmax are left alone.
//   bindings: 0 uniforms {N, H, D, Tmax, R}; 1 x (N, H*D) read-write; 2 cos, 3 sin (Tmax, R/2) read;
//   4 state read.
// decode_kv_store   one invocation per (row, kv head, d): kc[h, pos+i, d] = k[i, h, d] (vc from v)
//   for rows i < count.
//   bindings: 0 uniforms {N, Hkv, D, Tmax}; 1 kc, 2 vc (Hkv, Tmax, D) written; 3 k, 4 v (N, Hkv*D)
//   read; 5 state read.
// decode_gemv, decode_gemv_bias  out (N, Out) = x (N, In) · Wᵀ (+ bias) (or += when accumulate):
//   the frozen projections of a decode step (N = 1), where the tiled GEMM of matmul.wgsl would
//   compute 64 rows for one. Workgroup (x + y * nwg.x) owns GR = 8 consecutive output rows of token
//   row z: invocation tid sums k = tid, tid + WG, ... of each (x[k] read once for the GR rows),
//   then workgroup_sum4 (shaders/reduce.wgsl), four rows per pass.
//   bindings: 0 uniforms {In, Out, accumulate}; 1 out (N, Out) read-write; 2 x (N, In) read;
//   3 w (Out, In) read; 4 bias (Out) read (decode_gemv_bias only).
// decode_attention  grid (Hq, N), WG invocations: query row i (position t = pos + i) of head h
//   against cache keys 0..t of kv head h / (Hq/Hkv), softmax(scale q·k) v, online over chunks of
//   WG keys (invocation tid scores key k0 + tid; then every invocation reads the chunk's scores
//   and accumulates the dims d = tid, tid + WG, ... it owns). Rows i >= count get 0.
//   bindings: 0 uniforms {N, Hq, Hkv, D, Tmax, scale}; 1 out (N, Hq*D) written; 2 q (N, Hq*D) read;
//   3 kc, 4 vc (Hkv, Tmax, D) read; 5 state read.

override WG: u32 = 64u;
override QD: u32 = 64u;   // head dim D: the q row staged in workgroup memory
override NPT: u32 = 1u;   // ceil(D / WG): output dims per invocation, at most NMAX

const NMAX: u32 = 16u;
const NEG: f32 = -3.0e38;

// ---------------------------------------------------------------------------------------------
// RoPE at the cache position

struct RopeParams { N: u32, H: u32, D: u32, Tmax: u32, R: u32 }

@group(0) @binding(0) var<uniform> rp: RopeParams;
@group(0) @binding(1) var<storage, read_write> r_x: array<f32>;
@group(0) @binding(2) var<storage, read> r_cos: array<f32>;
@group(0) @binding(3) var<storage, read> r_sin: array<f32>;
@group(0) @binding(4) var<storage, read> r_state: array<u32>;

@compute @workgroup_size(WG)
fn decode_rope(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let half = rp.R / 2u;
  if (idx >= rp.N * rp.H * half) { return; }
  let i = idx % half;
  let row = idx / half; // token*H + head
  let t = r_state[0] + row / rp.H;
  if (t >= rp.Tmax) { return; }
  let c = r_cos[t * half + i];
  let s = r_sin[t * half + i];
  let lo = row * rp.D + i;
  let y = rope_pair(r_x[lo], r_x[lo + half], c, s); // shaders/rope_pair.wgsl, composed in front
  r_x[lo] = y.x;
  r_x[lo + half] = y.y;
}

// ---------------------------------------------------------------------------------------------
// Append k, v to the cache

struct StoreParams { N: u32, Hkv: u32, D: u32, Tmax: u32 }

@group(0) @binding(0) var<uniform> sp: StoreParams;
@group(0) @binding(1) var<storage, read_write> s_kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> s_vc: array<f32>;
@group(0) @binding(3) var<storage, read> s_k: array<f32>;
@group(0) @binding(4) var<storage, read> s_v: array<f32>;
@group(0) @binding(5) var<storage, read> s_state: array<u32>;

@compute @workgroup_size(WG)
fn decode_kv_store(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let rowLen = sp.Hkv * sp.D;
  if (idx >= sp.N * rowLen) { return; }
  let i = idx / rowLen;
  let hd = idx - i * rowLen;
  let h = hd / sp.D;
  let d = hd - h * sp.D;
  let t = s_state[0] + i;
  if (i >= s_state[1] || t >= sp.Tmax) { return; }
  let dst = (h * sp.Tmax + t) * sp.D + d;
  s_kc[dst] = s_k[idx];
  s_vc[dst] = s_v[idx];
}

// ---------------------------------------------------------------------------------------------
// Attention of the new rows over the cache

// Scores: scale · q·k, soft-capped to softcap · tanh(s / softcap) when softcap > 0 (Gemma 2); with
// a sliding window (window > 0) position t attends to keys t-window+1..t only (the chunks before
// are not visited).
struct AttnParams { N: u32, Hq: u32, Hkv: u32, D: u32, Tmax: u32, scale: f32, window: u32, softcap: f32 }

@group(0) @binding(0) var<uniform> ap: AttnParams;
@group(0) @binding(1) var<storage, read_write> a_out: array<f32>;
@group(0) @binding(2) var<storage, read> a_q: array<f32>;
@group(0) @binding(3) var<storage, read> a_kc: array<f32>;
@group(0) @binding(4) var<storage, read> a_vc: array<f32>;
@group(0) @binding(5) var<storage, read> a_state: array<u32>;

var<workgroup> a_sq: array<f32, QD>;
var<workgroup> a_ss: array<f32, WG>;

@compute @workgroup_size(WG)
fn decode_attention(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let i = wg.y;
  let D = ap.D;
  let base = (i * ap.Hq + h) * D;
  let count = a_state[1];
  if (i >= count) {
    for (var d = tid; d < D; d += WG) { a_out[base + d] = 0.0; }
    return;
  }
  let hk = h / (ap.Hq / ap.Hkv);
  let kEnd = min(a_state[0] + i + 1u, ap.Tmax); // keys 0..t
  var kBegin = 0u;
  if (ap.window > 0u && a_state[0] + i + 1u > ap.window) { kBegin = a_state[0] + i + 1u - ap.window; }
  let head = hk * ap.Tmax * D;

  for (var d = tid; d < D; d += WG) { a_sq[d] = a_q[base + d]; }

  var acc: array<f32, NMAX>;
  for (var k = 0u; k < NPT; k++) { acc[k] = 0.0; }
  var m = NEG;
  var l = 0.0;
  for (var k0 = kBegin; k0 < kEnd; k0 += WG) {
    workgroupBarrier(); // q staged / the previous chunk's scores consumed
    let j = k0 + tid;
    var s = NEG;
    if (j < kEnd) {
      var dot = 0.0;
      let kb = head + j * D;
      for (var d = 0u; d < D; d++) { dot += a_sq[d] * a_kc[kb + d]; }
      s = dot * ap.scale;
      if (ap.softcap > 0.0) {
        let x = s / ap.softcap;
        let e = exp(-2.0 * abs(x)); // tanh without overflow
        s = ap.softcap * sign(x) * (1.0 - e) / (1.0 + e);
      }
    }
    a_ss[tid] = s;
    workgroupBarrier();
    let n = min(WG, kEnd - k0);
    var mt = m;
    for (var jj = 0u; jj < n; jj++) { mt = max(mt, a_ss[jj]); }
    let alpha = exp(m - mt);
    for (var k = 0u; k < NPT; k++) { acc[k] *= alpha; }
    var rs = 0.0;
    for (var jj = 0u; jj < n; jj++) {
      let pj = exp(a_ss[jj] - mt);
      rs += pj;
      let vb = head + (k0 + jj) * D;
      for (var k = 0u; k < NPT; k++) {
        let d = tid + k * WG;
        if (d < D) { acc[k] += pj * a_vc[vb + d]; }
      }
    }
    l = l * alpha + rs;
    m = mt;
  }
  let inv = 1.0 / l;
  for (var k = 0u; k < NPT; k++) {
    let d = tid + k * WG;
    if (d < D) { a_out[base + d] = acc[k] * inv; }
  }
}

// ---------------------------------------------------------------------------------------------
// Matrix-vector product for the projections of a decode step

struct GemvParams { In: u32, Out: u32, accumulate: u32 }

const GR: u32 = 8u; // output rows per workgroup: two vec4 accumulators

@group(0) @binding(0) var<uniform> gp: GemvParams;
@group(0) @binding(1) var<storage, read_write> g_out: array<f32>;
@group(0) @binding(2) var<storage, read> g_x: array<f32>;
@group(0) @binding(3) var<storage, read> g_w: array<f32>;
@group(0) @binding(4) var<storage, read> g_bias: array<f32>;

fn gemv_sums(lane: Lane, o0: u32, n: u32) -> array<vec4<f32>, 2> {
  var acc: array<vec4<f32>, 2>;
  let xb = n * gp.In;
  for (var k = lane.li; k < gp.In; k += WG) {
    let xk = g_x[xb + k];
    for (var r = 0u; r < GR; r++) {
      let o = o0 + r;
      if (o < gp.Out) { acc[r / 4u][r % 4u] += xk * g_w[o * gp.In + k]; }
    }
  }
  return array<vec4<f32>, 2>(workgroup_sum4(lane, acc[0]), workgroup_sum4(lane, acc[1]));
}

fn gemv_store(o: u32, n: u32, y: f32) {
  let i = n * gp.Out + o;
  if (gp.accumulate != 0u) { g_out[i] = g_out[i] + y; } else { g_out[i] = y; }
}

@compute @workgroup_size(WG)
fn decode_gemv(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tid = lane.li;
  let o0 = (wg.x + wg.y * nwg.x) * GR;
  let sums = gemv_sums(lane, o0, wg.z);
  if (tid < GR && o0 + tid < gp.Out) { gemv_store(o0 + tid, wg.z, sums[tid / 4u][tid % 4u]); }
}

@compute @workgroup_size(WG)
fn decode_gemv_bias(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tid = lane.li;
  let o0 = (wg.x + wg.y * nwg.x) * GR;
  let sums = gemv_sums(lane, o0, wg.z);
  if (tid < GR && o0 + tid < gp.Out) { gemv_store(o0 + tid, wg.z, sums[tid / 4u][tid % 4u] + g_bias[o0 + tid]); }
}
