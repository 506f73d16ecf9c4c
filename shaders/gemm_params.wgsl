// The uniforms of every f32 GEMM: one C (M,Nc) = alpha · A (M,K)·B (K,Nc), split or not over its
// reduction. Shared by shaders/lora.wgsl, shaders/matmul.wgsl and the generated 128x128 f32 tile
// (src/engine/kernels/matmul-tile128.ts), composed in front of each. The frozen linears use
// alpha = 1 and no dropout; their split slice is workgroup z (lora folds it into the grid).

struct Params {
  M: u32,
  Nc: u32,
  K: u32,
  tiles_m: u32,         // ceil(M / TILE_M)
  tiles: u32,           // tiles_m * ceil(Nc / TILE_N)
  accumulate: u32,      // 1: c += result, 0: c = result
  alpha: f32,           // result = alpha · A·B
  keep_threshold: u32,  // lora dropout: ceil(p · 2^24), keep iff (hash >> 8) >= keep_threshold
  site: u32,            // lora dropout site: distinct per (layer, projection)
  k_slice: u32,         // reduction length per slice (a multiple of TILE_K; K when unsplit)
  slices: u32,          // number of reduction slices (1 when unsplit)
  slice_stride: u32,    // floats between slices' partial results in c (0 when unsplit)
}
