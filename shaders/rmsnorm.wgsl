// RMSNorm, as transformers' LlamaRMSNorm (modeling_llama; Qwen3RMSNorm is the same), in f32:
//   rstd = rsqrt(mean(x²) + eps),  y = w ⊙ (x · rstd)
// Backward (weight frozen, so input gradient only), with g = w ⊙ dy:
//   dx = rstd · g − x · rstd³ · Σ_c(g_c x_c) / C
// One workgroup per row with a workgroup reduction (shaders/reduce.wgsl), so one kernel serves hidden-size rows
// (C up to 8192) and per-head rows (Qwen3 q_norm/k_norm: N = tokens·heads, C = head_dim). Rows are
// folded over a 2D grid (x + y * num_workgroups.x) so N may exceed 65535.
//
// rmsnorm_forward bindings:  0 uniforms {N, C, eps}
//                            1 out    (N,C) written
//                            2 rstd   (N)   written (saved for backward)
//                            3 inp    (N,C) read
//                            4 weight (C)   read
// rmsnorm_backward bindings: 0 uniforms {N, C, eps (unused), accumulate}
//                            1 dinp   (N,C) written, or accumulated when accumulate != 0
//                            2 dout   (N,C) read
//                            3 inp    (N,C) read
//                            4 weight (C)   read
//                            5 rstd   (N)   read

struct Params {
  N: u32,
  C: u32,
  eps: f32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// rmsnorm_forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd_out: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;

// rmsnorm_backward (inp and weight shared with forward)
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> rstd_in: array<f32>;

// Threads per row; a power of two. The host picks 32..256 from C.
override WG: u32 = 256;

@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var ss = 0.0;
  for (var c = li; c < p.C; c += WG) {
    let x = inp[base + c];
    ss = fma(x, x, ss);
  }
  let total = workgroup_sum(lane, ss);
  let r = inverseSqrt(total / f32(p.C) + p.eps);
  if (li == 0u) { rstd_out[row] = r; }
  for (var c = li; c < p.C; c += WG) {
    out[base + c] = weight[c] * (inp[base + c] * r);
  }
}

@compute @workgroup_size(WG)
fn rmsnorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let li = lane.li;
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var dot = 0.0;
  for (var c = li; c < p.C; c += WG) {
    dot = fma(weight[c] * dout[base + c], inp[base + c], dot);
  }
  let total = workgroup_sum(lane, dot);
  let r = rstd_in[row];
  let coef = r * r * r * total / f32(p.C);
  for (var c = li; c < p.C; c += WG) {
    let i = base + c;
    let dx = r * (weight[c] * dout[i]) - inp[i] * coef;
    if (p.accumulate != 0u) { dinp[i] += dx; } else { dinp[i] = dx; }
  }
}
