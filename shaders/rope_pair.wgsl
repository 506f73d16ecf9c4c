// The rotate_half rotation of one pair of a head's row, (x[d], x[d + D/2]) for d < D/2, by the
// angle whose cosine and sine are c and s (rope.wgsl states the convention). Composed in front of
// rope.wgsl (training, s negated for the backward) and decode.wgsl (decode_rope, at the cache
// position), so the two cannot drift apart.
fn rope_pair(a: f32, b: f32, c: f32, s: f32) -> vec2<f32> {
  return vec2<f32>(a * c - b * s, b * c + a * s);
}
