// Residual add: y += x, elementwise over n floats (transformers: hidden_states = residual + out).
// Backward is the identity: the residual gradient flows to both branches unchanged, so the
// engine reuses add_inplace to sum gradients from two paths.
//
// bindings: 0 uniforms {n}; 1 y (n) read-write, accumulated; 2 x (n) read.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn add_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  y[i] = y[i] + x[i];
}
