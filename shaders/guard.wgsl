// Divergence guard of a training step, around the AdamW update of shaders/optimizer.wgsl.
// Everything is decided on the GPU and lands in one small `result` buffer that the step reads
// back once (u32 words):
//   0 flags      bit set = unhealthy (see below; 0 = healthy)
//   1 max_bits   largest |x| of the proposed update (p, m, v) as f32 bits with the sign cleared;
//                written by adamw_step's PROBE pass (atomicMax: order-independent)
//   2 norm_sq    sum of grad^2 (f32 bits)
//   3 + i        loss of micro-batch i (f32 bits; unused slots are 0)
// Non-finite values are found by bit pattern (exponent bits all ones = Inf or NaN), never by a
// comparison: WGSL does not promise NaN comparisons. With the sign cleared, the u32 order of f32
// bits is the order of the magnitudes and every Inf/NaN is >= 0x7f800000, so one u32 max over the
// update catches both a non-finite value and a blow-up.
//
// Step order: guard_pre (losses, gradient norm) -> adamw_step PROBE -> guard_post (update) ->
// adamw_step apply, which writes nothing when flags != 0: a flagged step leaves params, m, v as
// they were.
//
// guard_pre bindings: 0 uniforms {slots, loss_bound, grad_norm_bound, param_bound};
//   1 result (3 + slots) read-write; 2 norm_sq (1) read.
// guard_post bindings: 0 uniforms (same); 1 result read-write.

const LOSS_NONFINITE: u32 = 1u;
const GRAD_NONFINITE: u32 = 2u;
const LOSS_OVER_BOUND: u32 = 4u;
const GRAD_OVER_BOUND: u32 = 8u;
const UPDATE_NONFINITE: u32 = 16u;
const PARAM_OVER_BOUND: u32 = 32u;
const EXP_BITS: u32 = 0x7f800000u;

struct GuardParams { slots: u32, loss_bound: f32, grad_norm_bound: f32, param_bound: f32 }

@group(0) @binding(0) var<uniform> gp: GuardParams;
@group(0) @binding(1) var<storage, read_write> result: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read> norm_sq: array<f32>;

fn nonfinite(bits: u32) -> bool {
  return (bits & EXP_BITS) == EXP_BITS;
}

@compute @workgroup_size(1)
fn guard_pre() {
  var flags = 0u;
  var loss = 0.0;
  for (var i = 0u; i < gp.slots; i++) {
    let bits = atomicLoad(&result[3u + i]);
    if (nonfinite(bits)) { flags |= LOSS_NONFINITE; }
    loss += bitcast<f32>(bits);
  }
  if ((flags & LOSS_NONFINITE) == 0u && loss > gp.loss_bound) { flags |= LOSS_OVER_BOUND; }
  let ns = norm_sq[0];
  let ns_bits = bitcast<u32>(ns);
  if (nonfinite(ns_bits)) {
    flags |= GRAD_NONFINITE;
  } else if (ns > gp.grad_norm_bound * gp.grad_norm_bound) {
    flags |= GRAD_OVER_BOUND;
  }
  atomicStore(&result[0], flags);
  atomicStore(&result[1], 0u);
  atomicStore(&result[2], ns_bits);
}

@compute @workgroup_size(1)
fn guard_post() {
  let bits = atomicLoad(&result[1]);
  if (bits >= EXP_BITS) {
    atomicOr(&result[0], UPDATE_NONFINITE);
  } else if (bitcast<f32>(bits) > gp.param_bound) {
    atomicOr(&result[0], PARAM_OVER_BOUND);
  }
}
