// Optimizer over one flat f32 buffer holding every LoRA parameter (and matching grads, moments).
//
// Global gradient norm (torch.nn.utils.clip_grad_norm_, norm_type 2), squared, in two
// deterministic passes:
//   norm_partials: partials[w] = sum over i = w*WG + tid + k*(P*WG) of x[i]^2   (P workgroups)
//   norm_final:    out[0] = sum_w partials[w]                                  (one workgroup)
// bindings (both entries; TS order out, partials, x): 0 uniforms {n, P};
//   1 out (1) written (norm_final); 2 partials (P) written (norm_partials), read (norm_final);
//   3 x (n) read (norm_partials).
//
// AdamW step, exactly torch.optim.AdamW (decoupled weight decay) after clip_grad_norm_:
//   clip = maxGradNorm > 0 ? min(1, maxGradNorm / (sqrt(normSq) + 1e-6)) : 1
//   g = grad * clip
//   p = p * (1 - lr * wd)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   p = p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)      bc1 = 1 - beta1^t, bc2 = 1 - beta2^t
// adamw_step bindings: 0 uniforms {n, beta1, beta2, 1-beta1, 1-beta2, eps, weightDecay, maxGradNorm};
//   1 params (n) read-write, updated; 2 grads (n) read; 3 m (n) read-write; 4 v (n) read-write;
//   5 normSq (1) read; 6 stepParams (3) read: [lr, bc1, bc2]; 7 guard (shaders/guard.wgsl's result)
//   read-write, atomic. With PROBE the entry writes nothing but the largest |p|, and any non-finite
//   p, m or v, of the update into guard[1] (as bits, see guard.wgsl); without it, it updates only
//   when guard[0] (the step's health flags) is 0, so a flagged step leaves params, m and v intact.

struct NormParams { n: u32, parts: u32 }
// one_minus_beta1/2 are computed on the host in float64 then rounded (as torch passes 1 - beta as
// a scalar), not as 1 - f32(beta), which would be off by 1e-5 relative for beta2 = 0.999.
struct AdamParams {
  n: u32, beta1: f32, beta2: f32, one_minus_beta1: f32, one_minus_beta2: f32,
  eps: f32, weight_decay: f32, max_grad_norm: f32,
}

@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(1) var<storage, read_write> norm_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read> norm_x: array<f32>;

override WG: u32 = 256u; // a power of two

@compute @workgroup_size(WG)
fn norm_partials(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>) {
  let tid = lane.li;
  var s = 0.0;
  for (var i = wg.x * WG + tid; i < np.n; i += np.parts * WG) {
    let x = norm_x[i];
    s += x * x;
  }
  let total = workgroup_sum(lane, s);
  if (tid == 0u) { partials[wg.x] = total; }
}

@compute @workgroup_size(WG)
fn norm_final(lane: Lane) {
  let tid = lane.li;
  var s = 0.0;
  for (var i = tid; i < np.parts; i += WG) { s += partials[i]; }
  let total = workgroup_sum(lane, s);
  if (tid == 0u) { norm_out[0] = total; }
}

@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
@group(0) @binding(5) var<storage, read> norm_sq: array<f32>;
@group(0) @binding(6) var<storage, read> step_params: array<f32>;

@group(0) @binding(7) var<storage, read_write> guard: array<atomic<u32>>;

override PROBE: bool = false;
var<workgroup> probe_max: atomic<u32>;

/** Element i's AdamW update: (p, m, v). */
fn adamw_update(i: u32) -> vec3<f32> {
  let lr = step_params[0];
  let bc1 = step_params[1];
  let bc2 = step_params[2];
  let ns = norm_sq[0];
  var clip = 1.0;
  if (ap.max_grad_norm > 0.0) { clip = min(1.0, ap.max_grad_norm / (sqrt(ns) + 1e-6)); }
  let g = grads[i] * clip;
  let m = ap.beta1 * m1[i] + ap.one_minus_beta1 * g;
  let v = ap.beta2 * m2[i] + ap.one_minus_beta2 * g * g;
  let p = params[i] * (1.0 - lr * ap.weight_decay);
  return vec3<f32>(p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + ap.eps), m, v);
}

/** |x| as bits (u32 order = magnitude order) where finite; an Inf/NaN's bits, >= 0x7f800000, where not. */
fn magnitude_bits(x: f32) -> u32 {
  return bitcast<u32>(x) & 0x7fffffffu;
}

fn nonfinite_bits(x: f32) -> u32 {
  let b = magnitude_bits(x);
  return select(0u, b, b >= 0x7f800000u);
}

@compute @workgroup_size(WG)
fn adamw_step(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (PROBE) {
    var bits = 0u;
    if (i < ap.n) {
      let u = adamw_update(i);
      bits = max(magnitude_bits(u.x), max(nonfinite_bits(u.y), nonfinite_bits(u.z)));
    }
    atomicMax(&probe_max, bits);
    workgroupBarrier();
    if (li == 0u) { atomicMax(&guard[1], atomicLoad(&probe_max)); }
    return;
  }
  if (i >= ap.n) { return; }
  if (atomicLoad(&guard[0]) != 0u) { return; }
  let u = adamw_update(i);
  m1[i] = u.y;
  m2[i] = u.z;
  params[i] = u.x;
}
