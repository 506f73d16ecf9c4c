// SwiGLU activation of the Llama MLP (transformers' LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)),
// act_fn = SiLU), elementwise over n = N·intermediate floats:
//   swiglu_forward:  out = silu(g) · u,  silu(g) = g · σ(g)
//   swiglu_backward: dgate = dout · u · σ(g) · (1 + g · (1 − σ(g))),  dup = dout · silu(g)
// σ is evaluated without overflow for any g. One thread per element, folded over a 2D grid.
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

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));  // in (0, 1]: never overflows
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, x >= 0.0);
}

@compute @workgroup_size(WG)
fn swiglu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = gate_f[i];
  out[i] = g * sigmoid(g) * up_f[i];
}

@compute @workgroup_size(WG)
fn swiglu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = gate_b[i];
  let u = up_b[i];
  let d = dout[i];
  let s = sigmoid(g);
  dgate[i] = d * u * s * (1.0 + g * (1.0 - s));
  dup[i] = d * g * s;
}
