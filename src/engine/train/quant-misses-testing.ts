// Quantized-base cases whose first loss misses the int8 / int4 bound (2e-3 / 4e-2 relative), kept
// visible rather than skipped: the tests that meet these fixtures assert the miss, so they fail
// (and the entry must go) the day the first loss comes within its bound.
//
// ipo-tiny-qwen2: IPO's (h - 1/(2 beta))^2 over token-averaged log-ratios amplifies the rounded
// base's error about twice as much as DPO's loss does. The f32 engine run on the rounded weights
// themselves (dequantize(quantize(w))) gives the quantized run's loss, log-probs and step losses bit
// for bit, so the quantized path adds no error of its own; the rounding alone moves the first loss
// by 5.3e-3 (int8) and 7.9e-2 (int4).
const QUANT_FIRST_LOSS_MISSES = new Set(['ipo-tiny-qwen2 int8', 'ipo-tiny-qwen2 int4']);

/** Whether `fixture` at `quant` is a known first-loss miss (see above). */
export function knownQuantMiss(fixture: string, quant: 'int8' | 'int4'): boolean {
  return QUANT_FIRST_LOSS_MISSES.has(`${fixture} ${quant}`);
}
