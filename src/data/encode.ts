// Examples -> token ids and loss masks; truncation.
import { RecordError } from './errors';
import type { Example } from './formats';
import { assistantSpansByPrefix } from './template';
import type { ModelTokenizer } from './tokenizer';

/** What the loss is computed on: assistant turns only (default; prompt/completion: the completion), or every token. */
export type TrainOn = 'assistant' | 'all';

export interface EncodeOptions {
  trainOn?: TrainOn;
  /**
   * Whether a sequence starts with BOS. Default: the tokenizer's own rule (`ModelTokenizer.addsBos`:
   * Gemma and Llama yes, Qwen no); true adds it where the tokenizer would not. Never two: a BOS the
   * chat template wrote counts (see `ModelTokenizer.withBos`).
   */
  addBos?: boolean;
  /** The example will be cut to this many tokens: a longer text is cut before it is tokenized (cutForTokens). */
  maxTokens?: number;
}

/**
 * Tokens past maxTokens a cut text must still give. Only the end of a cut text tokenizes
 * differently (its last pre-tokenized piece); with this margin that end lies past the cut.
 */
const CUT_MARGIN_TOKENS = 16;

/**
 * `text` cut to the characters `maxTokens` (+ margin) tokens can cover, or `text` itself when it is
 * shorter. No token covers more than tok.longestToken characters, so what is cut off lies past
 * the example's cut; a normalizer that deletes text could break that, hence the check in encodeCut.
 */
export function cutForTokens(text: string, tok: ModelTokenizer, maxTokens: number | undefined): string {
  if (maxTokens === undefined) return text;
  let end = (maxTokens + CUT_MARGIN_TOKENS + 1) * tok.longestToken;
  if (text.length <= end) return text;
  if ((text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--; // never split a surrogate pair
  return text.slice(0, end);
}

/**
 * `encode(text)` of a text that may be cut first: the cut text's ids when they reach past maxTokens +
 * margin (so its cut end lies beyond what is kept), else the whole text's (a normalizer shrank it).
 */
function encodeCut<T extends { ids: number[] }>(text: string, tok: ModelTokenizer, maxTokens: number | undefined, encode: (s: string) => T): T {
  const cut = cutForTokens(text, tok, maxTokens);
  if (cut === text) return encode(text);
  const r = encode(cut);
  return r.ids.length > maxTokens! + CUT_MARGIN_TOKENS ? r : encode(text);
}

export interface EncodedExample {
  inputIds: Int32Array;
  /** 1 = the token is trained (its label is itself), 0 = masked (label -100). */
  trainMask: Uint8Array;
  /** Cut before tokenizing (EncodeOptions.maxTokens) with a trained turn past the cut. */
  trainedPastCut?: true;
}

/**
 * Tokenizes one example.
 * - chat: the model's chat template (add_generation_prompt false) tokenized as one string; trained:
 *   each assistant turn's tokens as transformers' assistant_masks (content + end-of-turn token, not
 *   the role header nor the newline after). Templates with {% generation %} tags give the spans;
 *   without tags, spans come from rendering prefixes (see assistantSpansByPrefix).
 * - completion (and Alpaca): [BOS?] + encode(prompt) + encode(completion) + [EOS], each part
 *   tokenized on its own (the prompt as it is at inference), loss on completion + EOS.
 * - text: [BOS?] + encode(text) + [EOS], all trained.
 * [BOS?] is the one rule of ModelTokenizer.withBos for every kind: one BOS first when the tokenizer
 * adds it (or `addBos`), never two (a template's own `{{ bos_token }}` counts).
 */
export function encodeExample(
  ex: Example,
  tok: ModelTokenizer,
  opts: EncodeOptions = {},
  warn?: (msg: string) => void,
): EncodedExample {
  const all = opts.trainOn === 'all';
  const eos = tok.eosId !== null ? [tok.eosId] : [];
  const encode = (s: string): number[] => encodeCut(s, tok, opts.maxTokens, (t) => ({ ids: tok.encode(t) })).ids;
  switch (ex.kind) {
    case 'text': {
      const ids = [...tok.withBos(encode(ex.text), opts.addBos), ...eos];
      return { inputIds: Int32Array.from(ids), trainMask: new Uint8Array(ids.length).fill(1) };
    }
    case 'completion': {
      const p = tok.withBos(encode(ex.prompt), opts.addBos);
      const c = encode(ex.completion);
      const ids = [...p, ...c, ...eos];
      const mask = new Uint8Array(ids.length).fill(1);
      if (!all) mask.fill(0, 0, p.length);
      return { inputIds: Int32Array.from(ids), trainMask: mask };
    }
    case 'chat': {
      const t = tok.template;
      if (all) {
        const ids = tok.withBos(encode(t.render(ex.messages)), opts.addBos);
        return { inputIds: Int32Array.from(ids), trainMask: new Uint8Array(ids.length).fill(1) };
      }
      let rendered = t.renderWithGenerationSpans(ex.messages);
      if (rendered && rendered.spans.length === 0) rendered = null;
      let text: string;
      let spans;
      if (rendered) {
        text = rendered.text;
        spans = rendered.spans;
      } else {
        text = t.render(ex.messages);
        spans = assistantSpansByPrefix(t, ex.messages, text, tok.endOfTurn, warn);
      }
      let cutAt = text.length;
      const { ids, mask } = encodeCut(text, tok, opts.maxTokens, (s) => {
        cutAt = s.length;
        return tok.encodeWithSpanMask(s, s === text ? spans : spans.map(([a, b]) => [Math.min(a, s.length), Math.min(b, s.length)] as const));
      });
      // An assistant turn wholly past the cut is still there, only past maxTokens (dropped there, not invalid).
      const trainedPastCut = spans.some(([a, b]) => b > a && a >= cutAt);
      const withBos = tok.withBos(ids, opts.addBos); // one longer when the template wrote no BOS
      const trainMask = new Uint8Array(withBos.length);
      trainMask.set(mask, withBos.length - ids.length);
      return { inputIds: Int32Array.from(withBos), trainMask, ...(trainedPastCut ? { trainedPastCut } : {}) };
    }
  }
}

export function countTrained(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

export interface Truncation {
  example: EncodedExample;
  truncated: boolean;
  /** A trained span (assistant turn / completion) was cut: its kept part is masked, not trained. */
  maskedPartialTurn: boolean;
}

/**
 * Cuts an example to `maxLength` tokens (keeping the start). A turn is never trained without its
 * end-of-turn token: when the cut falls inside a trained span (`protectTurns`, i.e. assistant-only
 * or completion-only training), that span's kept tokens are masked and `maskedPartialTurn` is set.
 * Text examples and train-on-all are cut plainly (continued-pretraining style).
 */
export function truncateExample(ex: EncodedExample, maxLength: number, protectTurns: boolean): Truncation {
  const n = ex.inputIds.length;
  if (n <= maxLength) return { example: ex, truncated: false, maskedPartialTurn: false };
  const inputIds = ex.inputIds.slice(0, maxLength);
  const trainMask = ex.trainMask.slice(0, maxLength);
  let maskedPartialTurn = false;
  if (protectTurns && maxLength > 0 && ex.trainMask[maxLength] === 1 && trainMask[maxLength - 1] === 1) {
    let r = maxLength - 1;
    while (r > 0 && trainMask[r - 1] === 1) r--;
    trainMask.fill(0, r);
    maskedPartialTurn = true;
  }
  return { example: { inputIds, trainMask }, truncated: true, maskedPartialTurn };
}

