// Workgroup reductions, tree form (no subgroups): composed in front of a kernel's WGSL by
// src/engine/kernels/reductions.ts; reduce_subgroups.wgsl has the same functions with subgroup
// operations and is used instead when the device has them. The kernel declares `override WG`
// (a power of two, its workgroup size), takes `lane: Lane` in its entry point and calls the
// functions from workgroup-uniform control flow. Every invocation gets the result.
//   workgroup_sum(lane, v)          sum of v over the workgroup
//   workgroup_sum4(lane, v)         the same for four values at once (one pass, not four)
//   workgroup_max_sum(lane, m, s)   merges (max m, sum of exp(x - m)) pairs: (M, sum s·exp(m - M))

struct Lane { @builtin(local_invocation_index) li: u32 }

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;
var<workgroup> red4: array<vec4<f32>, WG>;

fn workgroup_sum(l: Lane, v: f32) -> f32 {
  red_a[l.li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (l.li < s) { red_a[l.li] += red_a[l.li + s]; }
    workgroupBarrier();
  }
  let total = red_a[0];
  workgroupBarrier(); // a following call may overwrite red_a
  return total;
}

fn workgroup_sum4(l: Lane, v: vec4<f32>) -> vec4<f32> {
  red4[l.li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (l.li < s) { red4[l.li] += red4[l.li + s]; }
    workgroupBarrier();
  }
  let total = red4[0];
  workgroupBarrier();
  return total;
}

fn workgroup_max_sum(l: Lane, m: f32, s: f32) -> vec2<f32> {
  red_a[l.li] = m;
  red_b[l.li] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (l.li < stride) {
      let m1 = red_a[l.li];
      let m2 = red_a[l.li + stride];
      let mm = max(m1, m2);
      red_b[l.li] = red_b[l.li] * exp(m1 - mm) + red_b[l.li + stride] * exp(m2 - mm);
      red_a[l.li] = mm;
    }
    workgroupBarrier();
  }
  let total = vec2<f32>(red_a[0], red_b[0]);
  workgroupBarrier();
  return total;
}
