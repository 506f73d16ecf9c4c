// A block of columns of a row-major matrix, copied out or in: how a fused projection's output
// (Phi-3's qkv_proj = [q | k | v] rows of W, gate_up_proj = [gate | up]) meets the kernels that
// read q, k, v, gate and up as their own (N, w) buffers. The fused module runs as one GEMM (and
// one LoRA pair) into (N, W); its slices are copied out; in backward their gradients are copied
// back into one (N, W) gradient for the one backward GEMM and LoRA backward.
//
//   columns_split: part[n, j]          = fused[n, offset + j]   (n < N, j < w)
//   columns_join:  fused[n, offset + j] = part[n, j]
//
// One invocation per element of the part; grid folded into 2D past 65535 workgroups.
// bindings: 0 uniforms {N, W, w, offset}; 1 fused (N, W); 2 part (N, w) (the one written is read-write).

struct Params { N: u32, W: u32, w: u32, offset: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> fused: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

override WG: u32 = 256u;

fn fused_index(i: u32) -> u32 {
  return (i / p.w) * p.W + p.offset + i % p.w;
}

@compute @workgroup_size(WG)
fn columns_split(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.w) { return; }
  part[i] = fused[fused_index(i)];
}

@compute @workgroup_size(WG)
fn columns_join(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.w) { return; }
  fused[fused_index(i)] = part[i];
}
