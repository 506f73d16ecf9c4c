// Fused softmax cross-entropy over the vocabulary, one workgroup per row (token), numerically
// stable (max-subtracted, online per invocation, then workgroup_max_sum of shaders/reduce.wgsl).
// transformers ForCausalLMLoss -> F.cross_entropy(logits, shift_labels, ignore_index=-100,
// reduction='sum') / num_items_in_batch. Targets are already shifted: targets[t] is the token that
// logits row t predicts; -100 (or any target outside [0, V)) is ignored.
//   loss[t]      = logsumexp(logits[t, :]) - logits[t, target[t]]            (0 when ignored)
//   dlogits[t,:] = (softmax(logits[t, :]) - onehot(target[t])) * weight[t]   (0 when ignored)
//   lossSum      = sum_t weight[t] * loss[t]
// weight[t] = -dL/dlogp(token t), from the objective (shaders/objective.wgsl): 1 / counted tokens
// for SFT's mean, the pair's coefficient for a preference loss.
// Final logit soft-capping (Gemma 2's final_logit_softcapping, softcap > 0): softcap_logits first
// turns the head's logits z into cap * tanh(z / cap) in place (what transformers returns and the
// loss sees); ce_forward_backward then multiplies each dlogit by d capped / dz = 1 - (x / cap)^2 at
// the capped value x, so the gradient it leaves is the one of the head's raw output.
//
// ce_forward_backward  bindings: 0 uniforms {N, V, softcap};
//   1 losses (N) written; 2 logits (N, V) read, then overwritten in place with dlogits;
//   3 targets (N) i32 read; 4 weights (N) read.
// ce_forward (eval)  bindings: 0 uniforms {N, V, softcap (unused)};
//   1 losses (N) written; 2 logits (N, V) read (bound read-write, left unchanged); 3 targets (N) i32 read.
// loss_sum (single workgroup)  bindings: 0 uniforms {N, V(unused), softcap (unused)};
//   1 out (1) written; 2 losses (N) read; 3 weights (N) read.
// softcap_logits  bindings: 0 uniforms {N, V, softcap}; 2 logits (N, V) read and written.

struct Params { N: u32, V: u32, softcap: f32 }

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> token_weight: array<f32>;

@group(0) @binding(1) var<storage, read_write> sum_out: array<f32>;
@group(0) @binding(2) var<storage, read> sum_losses: array<f32>;
@group(0) @binding(3) var<storage, read> sum_weight: array<f32>;

override WG: u32 = 256u; // a power of two

const NEG: f32 = -3.0e38;

fn row_of(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wg.x + wg.y * nwg.x;
}

// This invocation's (max, sum of exp(x - max)) over its columns i = tid, tid + WG, ... of the row at
// base, online (one pass); (NEG, 0) for an ignored row.
fn own_max_sum(base: u32, V: u32, tid: u32, counted: bool) -> vec2<f32> {
  var m = NEG;
  var s = 0.0;
  if (counted) {
    for (var i = tid; i < V; i += WG) {
      let x = logits[base + i];
      if (x > m) {
        s = s * exp(m - x) + 1.0;
        m = x;
      } else {
        s += exp(x - m);
      }
    }
  }
  return vec2<f32>(m, s);
}

// A row's softmax statistics: its offset in logits, its target, whether the target counts, and
// (max, sum of exp(x - max)) over the whole row (every invocation gets them).
struct RowStats {
  base: u32,
  tgt: i32,
  counted: bool,
  ms: vec2<f32>,
}

fn row_stats(lane: Lane, row: u32) -> RowStats {
  let base = row * p.V;
  let tgt = targets[row];
  let counted = tgt >= 0 && u32(tgt) < p.V;
  let own = own_max_sum(base, p.V, lane.li, counted);
  return RowStats(base, tgt, counted, workgroup_max_sum(lane, own.x, own.y));
}

@compute @workgroup_size(WG)
fn ce_forward_backward(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tid = lane.li;
  let row = row_of(wg, nwg);
  if (row >= p.N) { return; }
  let r = row_stats(lane, row);
  let V = p.V;
  let base = r.base;
  let rowMax = r.ms.x;
  let invSum = 1.0 / r.ms.y;
  let logZ = rowMax + log(r.ms.y);
  let scale = token_weight[row];
  if (!r.counted) {
    for (var i = tid; i < V; i += WG) { logits[base + i] = 0.0; }
    if (tid == 0u) { losses[row] = 0.0; }
    return;
  }
  let t = u32(r.tgt);
  for (var i = tid; i < V; i += WG) {
    let x = logits[base + i];
    var g = exp(x - rowMax) * invSum;
    if (i == t) {
      g -= 1.0;
      losses[row] = logZ - x; // the invocation that reads logits[t] before overwriting it
    }
    if (p.softcap > 0.0) { g *= 1.0 - (x / p.softcap) * (x / p.softcap); }
    logits[base + i] = g * scale;
  }
}

// One workgroup per row: logits = softcap * tanh(logits / softcap), tanh without overflow.
@compute @workgroup_size(WG)
fn softcap_logits(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wg, nwg);
  if (row >= p.N) { return; }
  let base = row * p.V;
  for (var i = lane.li; i < p.V; i += WG) {
    let x = logits[base + i] / p.softcap;
    let e = exp(-2.0 * abs(x));
    logits[base + i] = p.softcap * sign(x) * (1.0 - e) / (1.0 + e);
  }
}

@compute @workgroup_size(WG)
fn ce_forward(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wg, nwg);
  if (row >= p.N) { return; }
  let r = row_stats(lane, row);
  if (lane.li == 0u) {
    var loss = 0.0;
    if (r.counted) { loss = r.ms.x + log(r.ms.y) - logits[r.base + u32(r.tgt)]; }
    losses[row] = loss;
  }
}

@compute @workgroup_size(WG)
fn loss_sum(lane: Lane) {
  var s = 0.0;
  for (var i = lane.li; i < p.N; i += WG) { s += sum_losses[i] * sum_weight[i]; }
  let total = workgroup_sum(lane, s);
  if (lane.li == 0u) { sum_out[0] = total; }
}
