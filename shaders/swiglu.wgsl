// The gated MLP activation (transformers' LlamaMLP / GemmaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))),
// elementwise over n = N·intermediate floats, act_fn chosen by the ACT override:
//   ACT 0, SiLU (Llama, Qwen, Phi-3):  a(g) = g · σ(g),  a'(g) = σ(g) · (1 + g · (1 − σ(g)))
//   ACT 1, gelu_pytorch_tanh (Gemma):  a(g) = ½ g (1 + tanh(u)),  u = √(2/π) (g + 0.044715 g³),
//                                      a'(g) = ½ (1 + tanh(u)) + ½ g (1 − tanh²(u)) √(2/π) (1 + 3·0.044715 g²)
//   swiglu_forward:  out = a(g) · u
//   swiglu_backward: dgate = dout · u · a'(g),  dup = dout · a(g)
// σ and tanh are evaluated without overflow for any g. One thread per element, folded over a 2D grid.
//
// swiglu_forward bindings:  0 uniforms {n}; 1 out (n) written; 2 gate (n) read; 3 up (n) read
// swiglu_backward bindings: 0 uniforms {n}; 1 dgate (n) written; 2 dup (n) written;
//                           3 dout (n) read; 4 gate (n) read; 5 up (n) read

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;

// swiglu_forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> gate_f: array<f32>;
@group(0) @binding(3) var<storage, read> up_f: array<f32>;

// swiglu_backward
@group(0) @binding(1) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(2) var<storage, read_write> dup: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> gate_b: array<f32>;
@group(0) @binding(5) var<storage, read> up_b: array<f32>;

override WG: u32 = 256;
override ACT: u32 = 0u; // 0 SiLU, 1 GeLU (tanh approximation)

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));  // in (0, 1]: never overflows
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, x >= 0.0);
}

// tanh(x) = sign(x) (1 − e^{−2|x|}) / (1 + e^{−2|x|}): no overflow for any x.
fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

const GELU_C: f32 = 0.7978845608028654; // √(2/π)
const GELU_A: f32 = 0.044715;

// (a(g), a'(g)) of the activation ACT.
fn act_grad(g: f32) -> vec2<f32> {
  if (ACT == 1u) {
    let t = tanh_safe(GELU_C * (g + GELU_A * g * g * g));
    let a = 0.5 * g * (1.0 + t);
    return vec2<f32>(a, 0.5 * (1.0 + t) + 0.5 * g * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * g * g));
  }
  let s = sigmoid(g);
  return vec2<f32>(g * s, s * (1.0 + g * (1.0 - s)));
}

@compute @workgroup_size(WG)
fn swiglu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  out[i] = act_grad(gate_f[i]).x * up_f[i];
}

@compute @workgroup_size(WG)
fn swiglu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = gate_b[i];
  let u = up_b[i];
  let d = dout[i];
  let a = act_grad(g);
  dgate[i] = d * u * a.y;
  dup[i] = d * a.x;
}
