// Residual add: y += x, elementwise over n floats (transformers: hidden_states = residual + out).
// Backward is the identity: the residual gradient flows to both branches unchanged, so the
// engine reuses add_inplace to sum gradients from two paths.
//
// split_reduce: the second pass of a split-K GEMM (src/engine/kernels/matmul.ts, matmul-q.ts, lora.ts): the slices of
// the reduction each wrote a partial result (n floats) to x at s·stride, s = 0..slices−1; y gets
//   y[i] = (or += when accumulate != 0) alpha · Σ_s x[s·stride + i]
// summed in slice order 0..slices−1 (deterministic, the same sum on every run).
//
// scale_inplace: y[i] = alpha · y[i] (Gemma's embeddings × sqrt(hidden_size)).
//
// bindings: 0 uniforms Params; 1 y (n) read-write; 2 x read (add_inplace: (n); split_reduce: the
// partials, (slices − 1)·stride + n; scale_inplace: unbound).

struct Params {
  n: u32,
  slices: u32,      // split_reduce only
  stride: u32,      // split_reduce only: floats between slices' partials
  accumulate: u32,  // split_reduce only
  alpha: f32,       // split_reduce: scale of the sum (1 for the matmuls, LoRA's scale for lora.ts); scale_inplace: the factor
}

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

// One thread per element, striding over the grid when n is larger than it (a device with a small
// maxComputeWorkgroupsPerDimension).
@compute @workgroup_size(WG)
fn split_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = gid.x + gid.y * nwg.x * WG; i < p.n; i += nwg.x * nwg.y * WG) {
    var sum = 0.0;
    for (var s = 0u; s < p.slices; s++) { sum += x[s * p.stride + i]; }
    var v = p.alpha * sum;
    if (p.accumulate != 0u) { v += y[i]; }
    y[i] = v;
  }
}

@compute @workgroup_size(WG)
fn scale_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  y[i] = p.alpha * y[i];
}
