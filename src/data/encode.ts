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
}

export interface EncodedExample {
  inputIds: Int32Array;
  /** 1 = the token is trained (its label is itself), 0 = masked (label -100). */
  trainMask: Uint8Array;
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
  switch (ex.kind) {
    case 'text': {
      const ids = [...tok.withBos(tok.encode(ex.text), opts.addBos), ...eos];
      return { inputIds: Int32Array.from(ids), trainMask: new Uint8Array(ids.length).fill(1) };
    }
    case 'completion': {
      const p = tok.withBos(tok.encode(ex.prompt), opts.addBos);
      const c = tok.encode(ex.completion);
      const ids = [...p, ...c, ...eos];
      const mask = new Uint8Array(ids.length).fill(1);
      if (!all) mask.fill(0, 0, p.length);
      return { inputIds: Int32Array.from(ids), trainMask: mask };
    }
    case 'chat': {
      const t = tok.template;
      if (all) {
        const ids = tok.withBos(tok.encode(t.render(ex.messages)), opts.addBos);
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
      const { ids, mask } = tok.encodeWithSpanMask(text, spans);
      const withBos = tok.withBos(ids, opts.addBos); // one longer when the template wrote no BOS
      const trainMask = new Uint8Array(withBos.length);
      trainMask.set(mask, withBos.length - ids.length);
      return { inputIds: Int32Array.from(withBos), trainMask };
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

