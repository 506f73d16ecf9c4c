enable subgroups;
// Workgroup reductions with subgroup operations: the same functions as reduce.wgsl (read it for the
// contract). Each subgroup reduces in registers, its first invocation leaves one value per
// subgroup in workgroup memory, and after one barrier every invocation adds those few values in
// subgroup order: two barriers instead of log2(WG) + 1, and the same order on every run.
// WebGPU subgroups have at least 4 invocations, so WG / 4 slots always suffice.

struct Lane {
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_id) sg: u32,
  @builtin(num_subgroups) count: u32,
}

var<workgroup> red_a: array<f32, WG / 4u>;
var<workgroup> red_b: array<f32, WG / 4u>;
var<workgroup> red4: array<vec4<f32>, WG / 4u>;

fn workgroup_sum(l: Lane, v: f32) -> f32 {
  let s = subgroupAdd(v);
  if (l.lane == 0u) { red_a[l.sg] = s; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < l.count; i++) { total += red_a[i]; }
  workgroupBarrier(); // a following call may overwrite red_a
  return total;
}

fn workgroup_sum4(l: Lane, v: vec4<f32>) -> vec4<f32> {
  let s = subgroupAdd(v);
  if (l.lane == 0u) { red4[l.sg] = s; }
  workgroupBarrier();
  var total = vec4<f32>(0.0);
  for (var i = 0u; i < l.count; i++) { total += red4[i]; }
  workgroupBarrier();
  return total;
}

fn workgroup_max_sum(l: Lane, m: f32, s: f32) -> vec2<f32> {
  let mg = subgroupMax(m);
  let sg = subgroupAdd(s * exp(m - mg));
  if (l.lane == 0u) {
    red_a[l.sg] = mg;
    red_b[l.sg] = sg;
  }
  workgroupBarrier();
  var mm = red_a[0];
  for (var i = 1u; i < l.count; i++) { mm = max(mm, red_a[i]); }
  var total = 0.0;
  for (var i = 0u; i < l.count; i++) { total += red_b[i] * exp(red_a[i] - mm); }
  workgroupBarrier();
  return vec2<f32>(mm, total);
}
