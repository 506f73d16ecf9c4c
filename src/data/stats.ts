// What the UI shows: counts, a token-length histogram, and examples token by token.
import type { TokenSequence } from './sequences';
import type { ModelTokenizer } from './tokenizer';

export interface Histogram {
  /** Bin i counts lengths in [edges[i], edges[i+1]) (the last bin includes its upper edge). */
  edges: number[];
  counts: number[];
}

/** Equal-width bins over [0, max length], the width rounded up to a 1/2/5 x 10^k step. */
export function lengthHistogram(lengths: ArrayLike<number>, maxBins = 20): Histogram {
  let max = 0;
  for (let i = 0; i < lengths.length; i++) max = Math.max(max, lengths[i]);
  if (lengths.length === 0) return { edges: [0, 1], counts: [0] };
  const raw = Math.max(1, max / maxBins);
  const p = 10 ** Math.floor(Math.log10(raw));
  const width = [1, 2, 5, 10].map((m) => m * p).find((w) => w >= raw)!;
  const w = Math.max(1, Math.ceil(width));
  const bins = Math.max(1, Math.floor(max / w) + 1);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < lengths.length; i++) counts[Math.min(bins - 1, Math.floor(lengths[i] / w))]++;
  const edges = Array.from({ length: bins + 1 }, (_, i) => i * w);
  return { edges, counts };
}

export interface TokenViewItem {
  id: number;
  /** The token as text (special tokens verbatim; a partial UTF-8 character shows as U+FFFD). */
  text: string;
  /** True when the loss is computed on this token. */
  trained: boolean;
}

/** An example token by token, with trained/masked flags, for the dataset preview. */
export function tokenView(example: TokenSequence, tok: ModelTokenizer): TokenViewItem[] {
  const out: TokenViewItem[] = [];
  for (let i = 0; i < example.inputIds.length; i++) {
    const id = example.inputIds[i];
    out.push({ id, text: tok.tokenText(id), trained: example.trainMask[i] === 1 });
  }
  return out;
}
