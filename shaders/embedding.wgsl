// Token embedding lookup, as nn.Embedding (transformers' LlamaModel.embed_tokens):
//   out[n, c] = table[ids[n], c]
// No backward: the embedding table is frozen. An id outside the table (ids[n] >= V, where V is the
// table binding's length / C) gives a zero row instead of reading out of bounds.
// One thread per output element, folded over a 2D grid (x + y * num_workgroups.x * WG).
//
// bindings: 0 uniforms {N, C}
//           1 out   (N,C) f32 written
//           2 ids   (N)   u32 read
//           3 table (V,C) f32 read

struct Params {
  N: u32,
  C: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn embedding_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let c = i - n * p.C;
  let id = ids[n];
  var v = 0.0;
  if (id < arrayLength(&table) / p.C) { v = table[id * p.C + c]; }
  out[i] = v;
}
