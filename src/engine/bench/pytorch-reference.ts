// The performance reference points: PyTorch 2.11 + PEFT 0.21, eager, on one NVIDIA H100, batch 4,
// sequence 512, r = 16 on all seven projections, AdamW. A benchmark of exactly that shape reports
// its tokens/s as a ratio to them, so a run on an H100/H200 prints its own verdict.
export const PYTORCH_H100_TOKENS_PER_S: Readonly<Record<string, { f32: number; bf16: number }>> = {
  'smollm2-135m': { f32: 13_700, bf16: 9_500 },
  'qwen2.5-0.5b': { f32: 13_500, bf16: 19_600 },
  'llama-3.2-1b': { f32: 7_500, bf16: 24_200 },
};

export interface PytorchComparison {
  /** PyTorch f32 tokens/s on an H100 for this model and shape. */
  pytorch_f32_tokens_per_s: number;
  /** ours / PyTorch f32 (the goal is ≥ 0.5, the aim 1). Meaningful only on an H100/H200. */
  ratio_f32: number;
  pytorch_bf16_tokens_per_s: number;
  ratio_bf16: number;
}

/** The comparison when the run has the reference shape (all layers, 4 × 512, r 16), else null. */
export function comparePytorch(
  model: string,
  shape: { allLayers: boolean; batch: number; seq: number; rank: number },
  tokensPerS: number | null,
): PytorchComparison | null {
  const ref = PYTORCH_H100_TOKENS_PER_S[model];
  if (!ref || tokensPerS === null || !shape.allLayers || shape.batch !== 4 || shape.seq !== 512 || shape.rank !== 16) return null;
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    pytorch_f32_tokens_per_s: ref.f32,
    ratio_f32: r(tokensPerS / ref.f32),
    pytorch_bf16_tokens_per_s: ref.bf16,
    ratio_bf16: r(tokensPerS / ref.bf16),
  };
}
