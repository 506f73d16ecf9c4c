// Choosing the next token from a logits row on the CPU: greedy at temperature 0, else softmax at
// the temperature restricted to the top-p nucleus (transformers' TopPLogitsWarper: the smallest
// set of most likely tokens whose probability reaches top_p, at least one), drawn with a seeded RNG.

export interface SamplingOptions {
  /** 0 = greedy (argmax); otherwise logits are divided by it before the softmax. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 keeps every token. */
  topP: number;
}

/** The index of the largest logit (the first one on ties); NaN logits are never chosen. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/**
 * Probabilities of the tokens a draw may return: softmax(logits / temperature) cut to the top-p
 * nucleus and renormalized. Returns the candidate ids (most likely first) and their probabilities.
 */
export function nucleus(logits: ArrayLike<number>, { temperature, topP }: SamplingOptions): { ids: number[]; probs: Float64Array } {
  if (!(temperature > 0)) throw new Error(`temperature must be > 0 for sampling, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${topP}`);
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new Error('every logit is -Infinity or NaN');
  const p = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const v = logits[i];
    const e = v > -Infinity ? Math.exp((v - max) / temperature) : 0; // NaN compares false: 0
    p[i] = e;
    sum += e;
  }
  // Only tokens at or above a threshold t can be in the nucleus once the mass at or above t reaches
  // topP: halve t from the largest weight (1) until it does, so a 150k vocabulary sorts a few
  // hundred candidates, not all of it. Tokens whose weight underflowed to 0 are never candidates.
  let t = topP < 1 ? 0.5 : 0;
  for (; t > 1e-300; t /= 2) {
    let mass = 0;
    for (let i = 0; i < V; i++) if (p[i] >= t) mass += p[i];
    if (mass >= topP * sum * (1 + 1e-9)) break; // margin: the cut below sums in another order
  }
  const ids: number[] = [];
  for (let i = 0; i < V; i++) if (p[i] > 0 && p[i] >= t) ids.push(i);
  ids.sort((a, b) => p[b] - p[a] || a - b);
  let keep = ids.length;
  if (topP < 1) {
    let cum = 0;
    for (let k = 0; k < ids.length; k++) {
      cum += p[ids[k]] / sum;
      if (cum >= topP) {
        keep = k + 1;
        break;
      }
    }
  }
  const kept = ids.slice(0, keep);
  const probs = new Float64Array(keep);
  let total = 0;
  for (let k = 0; k < keep; k++) total += p[kept[k]];
  for (let k = 0; k < keep; k++) probs[k] = p[kept[k]] / total;
  return { ids: kept, probs };
}

/** The next token: argmax at temperature 0, else a draw from the nucleus with `random` in [0, 1). */
export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, random: () => number): number {
  if (!(opts.temperature > 0)) return argmax(logits);
  const { ids, probs } = nucleus(logits, opts);
  const u = random();
  let cum = 0;
  for (let k = 0; k < ids.length; k++) {
    cum += probs[k];
    if (u < cum) return ids[k];
  }
  return ids[ids.length - 1];
}
