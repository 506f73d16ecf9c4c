// Kernels that reduce across a workgroup (row norms, softmax, sums) call workgroup_sum and
// workgroup_max_sum instead of writing their own tree. The functions come in two forms that a
// kernel's WGSL is composed with: a tree in workgroup memory (every device) and subgroup
// operations (GPUs with wide subgroups); the Gpu compiles the one it chose (Gpu.subgroups).
import tree from '../../../shaders/reduce.wgsl?raw';
import subgroups from '../../../shaders/reduce_subgroups.wgsl?raw';
import type { Shader } from '../../gpu/gpu';

/** A shader whose WGSL uses `Lane` and the workgroup_* functions of shaders/reduce.wgsl. */
export function withWorkgroupReductions(name: string, code: string): Shader {
  // reduce_subgroups.wgsl starts with `enable subgroups;`, which must precede every declaration.
  return { name, code: `${tree}\n${code}`, subgroupCode: `${subgroups}\n${code}` };
}
