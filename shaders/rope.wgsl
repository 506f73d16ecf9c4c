// Rotary position embedding, transformers' rotate_half convention (modeling_llama.apply_rotary_pos_emb):
//   q_embed = q * cos + rotate_half(q) * sin,  rotate_half(x) = cat(-x[D/2:], x[:D/2]),
// with cos/sin = cat(freqs, freqs) so only the first half of each row is stored. For d < D/2:
//   out[d]       = x[d] * cos[t,d] - x[d+D/2] * sin[t,d]
//   out[d+D/2]   = x[d+D/2] * cos[t,d] + x[d] * sin[t,d]
// t is the token's position id, read from pos (B*T): its position within its own example (packed
// rows restart at 0 for each example, transformers' position_ids; a row of one example: 0..T-1).
//
// Partial rotary (Phi-4-mini's partial_rotary_factor, transformers' Phi3 apply_rotary_pos_emb):
// only the first R dims of each head rotate, as a head of R dims (pairs d, d+R/2 for d < R/2, the
// tables (P, R/2)); dims R..D-1 pass through untouched. R = D is the full rotation above.
//
// Backward is the transpose of that rotation (rotation by -angle):
//   dx[d]     = dy[d] * cos + dy[d+D/2] * sin
//   dx[d+D/2] = dy[d+D/2] * cos - dy[d] * sin
//
// The pair's rotation: rope_pair (shaders/rope_pair.wgsl, shared with decode.wgsl).
// One invocation per (token, head, d < R/2) pair; grid folded into 2D past 65535 workgroups.
//
// bindings: 0 uniforms {B, T, H, D, R};
//   1 x (B*T, H, D) read-write, rotated in place (forward: activations; backward: gradients);
//   2 cos (P, R/2) read;  3 sin (P, R/2) read (P > every position);  4 pos i32 (B*T) read.

struct Params { B: u32, T: u32, H: u32, D: u32, R: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_t: array<f32>;
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<i32>;

override WG: u32 = 256u;

// sign = +1: forward rotation; sign = -1: its transpose (backward).
fn rotate(idx: u32, sign: f32) {
  let half = p.R / 2u;
  if (idx >= p.B * p.T * p.H * half) { return; }
  let i = idx % half;
  let row = idx / half; // (b*T + token)*H + h
  let t = u32(max(pos[row / p.H], 0));
  let c = cos_t[t * half + i];
  let s = sin_t[t * half + i] * sign;
  let lo = row * p.D + i;
  let y = rope_pair(x[lo], x[lo + half], c, s); // shaders/rope_pair.wgsl, composed in front
  x[lo] = y.x;
  x[lo + half] = y.y;
}

@compute @workgroup_size(WG)
fn rope_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  rotate(gid.x + gid.y * nwg.x * WG, 1.0);
}

@compute @workgroup_size(WG)
fn rope_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  rotate(gid.x + gid.y * nwg.x * WG, -1.0);
}
