// The f32 frozen linear's uniforms: one GEMM C (M,Nc) = A (M,K)·B, shared by shaders/matmul.wgsl
// and the generated 128x128 tile (src/engine/kernels/matmul-tile128.ts), composed in front of both.

struct Params {
  M: u32,
  Nc: u32,
  K: u32,
  tiles_m: u32,       // ceil(M / tile)
  tiles: u32,         // tiles_m * ceil(Nc / tile)
  accumulate: u32,    // 1: c += result, 0: c = result
  k_slice: u32,       // linear_backward_input: reduction length per slice (K when unsplit)
  slice_stride: u32,  // linear_backward_input: floats between slices' partials in c (0 when unsplit)
}
