// The training objective between the LM head's per-token losses and its backward
// (src/engine/train/objective.ts). The fused cross-entropy (crossentropy.wgsl) scales each token's
// gradient by token_weight[t] = -dL/dlogp(token t); these entry points produce those weights.
//
// SFT: L = scale · Σ_t CE_t, so every token's weight is scale (fill_weights).
// Preference (rows 0..P-1 chosen, P..2P-1 rejected; one sequence per row):
//   sequence_logps:  logp[b] = Σ_t -CE_t over row b (ignored tokens have CE 0), tokens[b] = counted targets,
//                    ratio[b] = Σ_t (refCE_t - CE_t) = log π(row) - log π_ref(row), summed token by
//                    token: the difference of the two f32 sums (~60 each) would lose the small ratio's digits;
//   preference_loss: TRL's losses on (logp, ratio) per pair, written as the micro-batch's share of the
//                    step's loss (pair_scale = 1 / pairs of the step, nll_scale = 1 / chosen tokens
//                    of the step), coef[b] = -dL/dlogp[b], and the step's metrics accumulated;
//   row_weights:     token_weight[t] = coef[t / T].
//   DPO (sigmoid): z = β(ratio_c - ratio_r); L = -log σ(z)     (ratio = logp - ref logp)
//   IPO:           h = ratio_c/n_c - ratio_r/n_r; L = (h - 1/(2β))²
//   ORPO:          a = logp/n; lo = (a_c - a_r) - (log(1 - e^a_c) - log(1 - e^a_r));
//                  L = -Σ c · nll_scale - β · mean log σ(lo)
//
// fill_weights      bindings: 0 uniforms; 1 weights (N) written; 2 scales (2) read.
// row_weights       bindings: 0 uniforms; 1 weights (N) written; 2 coef (B) read.
// sequence_logps    bindings: 0 uniforms; 1 logp (B) written; 2 tokens (B) written; 3 ratio (B) written;
//                   4 losses (N) read; 5 targets (N) read; 6 ref_losses (N) read (the losses again where there is no reference).
// preference_loss   bindings: 0 uniforms; 1 coef (2P) written; 2 loss (1) written; 3 metrics (METRICS) read-write
//                   (accumulated over the step's micro-batches); 4 logp (2P) read; 5 ratio (2P) read;
//                   6 tokens (2P) read; 7 scales (2: nll_scale, pair_scale) read.

struct Params { N: u32, T: u32, V: u32, P: u32, method: u32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;

// fill_weights, row_weights
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;
@group(0) @binding(2) var<storage, read> w_source: array<f32>;
// sequence_logps
@group(0) @binding(1) var<storage, read_write> seq_logp: array<f32>;
@group(0) @binding(2) var<storage, read_write> seq_tokens: array<f32>;
@group(0) @binding(3) var<storage, read_write> seq_ratio: array<f32>;
@group(0) @binding(4) var<storage, read> tok_losses: array<f32>;
@group(0) @binding(5) var<storage, read> tok_targets: array<i32>;
@group(0) @binding(6) var<storage, read> tok_ref_losses: array<f32>;
// preference_loss
@group(0) @binding(1) var<storage, read_write> coef: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(4) var<storage, read> logp: array<f32>;
@group(0) @binding(5) var<storage, read> ratio: array<f32>;
@group(0) @binding(6) var<storage, read> tokens: array<f32>;
@group(0) @binding(7) var<storage, read> scales: array<f32>;

override WG: u32 = 256u; // a power of two

const DPO: u32 = 1u;
const IPO: u32 = 2u;
const ORPO: u32 = 3u;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn fill_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t < p.N) { weights[t] = w_source[0]; }
}

@compute @workgroup_size(WG)
fn row_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t < p.N) { weights[t] = w_source[t / p.T]; }
}

// One workgroup per row.
@compute @workgroup_size(WG)
fn sequence_logps(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = wg.x;
  var s = 0.0;
  var n = 0.0;
  var d = 0.0;
  for (var t = lane.li; t < p.T; t += WG) {
    let i = row * p.T + t;
    s += tok_losses[i];
    d += tok_ref_losses[i] - tok_losses[i];
    let y = tok_targets[i];
    if (y >= 0 && u32(y) < p.V) { n += 1.0; }
  }
  let sums = workgroup_sum4(lane, vec4<f32>(s, n, d, 0.0));
  if (lane.li == 0u) {
    seq_logp[row] = -sums.x;
    seq_tokens[row] = sums.y;
    seq_ratio[row] = sums.z;
  }
}

// log σ(x), stable for either sign.
fn log_sigmoid(x: f32) -> f32 {
  return min(x, 0.0) - log(1.0 + exp(-abs(x)));
}

fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

// One workgroup: invocation i takes pairs i, i + WG, ...; the sums are reduced in a fixed order.
@compute @workgroup_size(WG)
fn preference_loss(lane: Lane) {
  let P = p.P;
  let beta = p.beta;
  let nll_scale = scales[0];
  let ps = scales[1];
  var loss = 0.0;
  // The metric words (objective.ts METRIC_NAMES), each a sum whose step total is the mean over
  // pairs (nll: over the chosen tokens): rewards chosen, rejected, accuracy, logps chosen | logps
  // rejected, nll, log σ(log odds), log odds.
  var ma = vec4<f32>(0.0);
  var mb = vec4<f32>(0.0);
  for (var i = lane.li; i < P; i += WG) {
    let c = logp[i];
    let r = logp[P + i];
    let nc = max(tokens[i], 1.0);
    let nr = max(tokens[P + i], 1.0);
    var gc = 0.0; // -dL/dc
    var gr = 0.0; // -dL/dr
    var rew_c = 0.0;
    var rew_r = 0.0;
    if (p.method == ORPO) {
      let ac = c / nc;
      let ar = r / nr;
      let lc = log(1.0 - exp(ac));
      let lr = log(1.0 - exp(ar));
      let lo = (ac - ar) - (lc - lr);
      let ls = log_sigmoid(lo);
      loss += -c * nll_scale - beta * ps * ls;
      let sg = sigmoid(-lo); // d log σ(lo) / d lo
      gc = nll_scale + beta * ps * sg / (nc * (1.0 - exp(ac)));
      gr = -beta * ps * sg / (nr * (1.0 - exp(ar)));
      rew_c = beta * ac;
      rew_r = beta * ar;
      mb += vec4<f32>(0.0, -c * nll_scale, ls * ps, lo * ps);
    } else {
      let dc = ratio[i];
      let dr = ratio[P + i];
      rew_c = beta * dc;
      rew_r = beta * dr;
      if (p.method == IPO) {
        let h = dc / nc - dr / nr;
        let e = h - 1.0 / (2.0 * beta);
        loss += e * e * ps;
        gc = -2.0 * e / nc * ps;
        gr = 2.0 * e / nr * ps;
      } else {
        let z = beta * (dc - dr);
        loss += -log_sigmoid(z) * ps;
        let s = sigmoid(-z);
        gc = beta * s * ps;
        gr = -beta * s * ps;
      }
    }
    coef[i] = gc;
    coef[P + i] = gr;
    ma += vec4<f32>(rew_c * ps, rew_r * ps, select(0.0, ps, rew_c > rew_r), c * ps);
    mb.x += r * ps;
  }
  let total = workgroup_sum(lane, loss);
  let a = workgroup_sum4(lane, ma);
  let b = workgroup_sum4(lane, mb);
  if (lane.li == 0u) {
    loss_out[0] = total;
    for (var k = 0u; k < 4u; k++) {
      metrics[k] += a[k];
      metrics[4u + k] += b[k];
    }
  }
}
