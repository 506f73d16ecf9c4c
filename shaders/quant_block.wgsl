// A block-quantized frozen weight as the quantized kernels bind it: their uniforms, the codes and
// scales, and the int4/int8 unpacking. Shared by shaders/matmul_q.wgsl and the generated 128x128
// quantized tile (src/engine/kernels/matmul-tile128.ts), composed in front of both.
//
// Weight format (src/quant/format.ts): W is (rows, cols) = (Out, In), quantized along In in blocks
// of 32 with one f32 scale per block. bpr = ceil(In / 32) blocks per row; the last block is padded
// with the code of zero.
//   BITS = 8 (int8): 8 words per block; byte j of word w holds column 4w + j, two's complement;
//                    value = q * scale.
//   BITS = 4 (int4): 4 words per block; nibble j of word w holds column 8w + j, unsigned;
//                    value = (q - 8) * scale.
//   q:      array<u32>, row r at r * bpr * BITS words (BITS == words per block).
//   scales: array<f32>, row r at r * bpr.
// The including shader declares BITS (4 or 8: an override or a const).

struct Params {
  N: u32,
  In: u32,
  // Rows of W in this part (for the embedding: rows in this part too).
  Out: u32,
  // Row stride of out / dout / bias length: the whole tensor's row count.
  outStride: u32,
  // First row of this part within the whole tensor.
  rowOffset: u32,
  // linear_*: 1 adds to the destination instead of overwriting it. embedding: 1 zero-fills invalid ids.
  flag: u32,
  // Rows of the whole tensor (embedding: valid ids are 0 .. totalRows - 1).
  totalRows: u32,
  // linear_bwd_input: rows of this part per reduction slice (>= Out when unsplit).
  kSlice: u32,
  // linear_bwd_input: the partial-result slot of slice 0 of this dispatch (0 when unsplit).
  slot0: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> q: array<u32>;
@group(0) @binding(4) var<storage, read> scales: array<f32>;

// The dequantized code j (0 .. 32/BITS - 1) of a packed word, before its block's scale.
fn decode(word: u32, j: u32) -> f32 {
  if (BITS == 8u) {
    return f32(extractBits(i32(word), 8u * j, 8u));
  }
  return f32(extractBits(word, 4u * j, 4u)) - 8.0;
}

// int4: the values q - 8 of nibbles 0..3 (lo) and 4..7 (hi) of a word, four at once.
fn nib_lo(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - vec4<f32>(8.0);
}
fn nib_hi(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - vec4<f32>(8.0);
}
// int8: the signed bytes 0..3 of a word, four at once.
fn bytes4(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(i32(w)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}
