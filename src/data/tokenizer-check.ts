// tokenizer.json validated before @huggingface/tokenizers builds anything from it: sizes, the
// vocabulary's and added tokens' ids, merges over known tokens, and every regex (see
// src/io/untrusted/tokenizer-regex.ts). The library trusts all of it: an added token with id 1.5
// would reach the GPU as another token, and an unknown merge is silently ignored. Each refusal
// names the file and the entry (`added_tokens[3].id`, `model.merges[17]`, `pre_tokenizer.pattern.Regex`).
// An added token past config.json's vocab_size is kept (real tokenizers have them: Gemma 3's
// <image_soft_token> is id 262144 of its 262,144-row text models; llama.cpp's converter drops
// them) and returned as `beyondVocab`: ModelTokenizer refuses any text that encodes to one.

import { DatasetError } from './errors';
import { compileTokenizerRegex, type LinearPattern } from '../io/untrusted/tokenizer-regex';
import { preview } from '../io/untrusted/limits';

/**
 * Caps that keep a tokenizer's memory (the parsed JSON and the library's maps) under 1 GB; far
 * above the largest real ones (Gemma 3: 262,144 tokens, 514,906 merges, 6,415 added tokens).
 */
export const TOKENIZER_CAPS = {
  vocab: 1 << 19,
  merges: 1 << 20,
  addedTokens: 1 << 17,
  /** Characters of all added tokens together: the library builds a trie node per character (Gemma 3: 75,802). */
  addedChars: 1 << 19,
  /** Characters of one vocabulary or added token (Qwen3's longest is 128, Gemma 3's 31). */
  tokenChars: 1 << 10,
} as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A DatasetError naming `file` and the JSON path `field`. */
const failIn = (file: string) => (field: string | null, detail: string): never => {
  throw new DatasetError(field ? `${file}: ${field} ${detail}` : `${file} ${detail}`);
};

const isId = (v: unknown, bound: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < bound;

/** The vocabulary as token -> id (BPE, WordPiece: an object; Unigram: a list of [token, score]). */
function vocabMap(model: Obj, fail: ReturnType<typeof failIn>): Map<string, number> {
  const vocab = model.vocab;
  const out = new Map<string, number>();
  if (Array.isArray(vocab)) {
    if (vocab.length > TOKENIZER_CAPS.vocab) fail('model.vocab', `has ${vocab.length} entries, more than the ${TOKENIZER_CAPS.vocab} allowed`);
    vocab.forEach((e, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') fail(`model.vocab[${i}]`, `must be a [token, score] pair, not ${preview(e)}`);
      if (e[0].length > TOKENIZER_CAPS.tokenChars) fail(`model.vocab[${i}]`, `is a token of ${e[0].length} characters, more than the ${TOKENIZER_CAPS.tokenChars} allowed`);
      if (!out.has(e[0])) out.set(e[0], i);
    });
    return out;
  }
  if (!isObj(vocab)) return out;
  let n = 0;
  for (const token in vocab) {
    if (++n > TOKENIZER_CAPS.vocab) fail('model.vocab', `has more than the ${TOKENIZER_CAPS.vocab} entries allowed`);
    const id = vocab[token];
    if (!isId(id, TOKENIZER_CAPS.vocab)) fail(`model.vocab[${JSON.stringify(token.slice(0, 40))}]`, `must be a token id (an integer from 0 to ${TOKENIZER_CAPS.vocab - 1}), not ${preview(id)}`);
    if (token.length > TOKENIZER_CAPS.tokenChars) fail(`model.vocab[${JSON.stringify(token.slice(0, 40))}…]`, `is a token of ${token.length} characters, more than the ${TOKENIZER_CAPS.tokenChars} allowed`);
    out.set(token, id);
  }
  return out;
}

function checkMerges(model: Obj, vocab: Map<string, number>, fail: ReturnType<typeof failIn>): void {
  const merges = model.merges;
  if (merges === undefined) return;
  if (!Array.isArray(merges)) return fail('model.merges', `must be a list, not ${preview(merges)}`);
  if (merges.length > TOKENIZER_CAPS.merges) fail('model.merges', `has ${merges.length} entries, more than the ${TOKENIZER_CAPS.merges} allowed`);
  const prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
  for (let i = 0; i < merges.length; i++) {
    const m = merges[i];
    const pair = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      fail(`model.merges[${i}]`, `must be two tokens ("a b" or ["a", "b"]), not ${preview(m)}`);
    }
    const [a, b] = pair as [string, string];
    const merged = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    for (const t of [a, b, merged]) {
      if (!vocab.has(t)) fail(`model.merges[${i}]`, `${preview(m)} names ${JSON.stringify(t.slice(0, 40))}, which is not in model.vocab`);
    }
  }
}

/** An added token whose id is past the model's embedding (config.json's vocab_size). */
export interface BeyondVocabToken {
  /** Its place in tokenizer.json: `added_tokens[6414]`. */
  entry: string;
  id: number;
  content: string;
}

/**
 * Checks `added_tokens`: integer ids, no id twice, non-empty contents within the size cap. With
 * config.json's `vocabSize`, ids from it up to the vocabulary cap are returned (kept, never
 * encoded); without it, ids must stay below `bound` (the vocabulary and its added tokens).
 */
function checkAddedTokens(tj: Obj, vocabSize: number | null, bound: number, fail: ReturnType<typeof failIn>): BeyondVocabToken[] {
  const beyond: BeyondVocabToken[] = [];
  const added = tj.added_tokens;
  if (added === undefined || added === null) return beyond;
  if (!Array.isArray(added)) return fail('added_tokens', `must be a list, not ${preview(added)}`);
  if (added.length > TOKENIZER_CAPS.addedTokens) fail('added_tokens', `has ${added.length} entries, more than the ${TOKENIZER_CAPS.addedTokens} allowed`);
  const seen = new Map<number, number>();
  let chars = 0;
  added.forEach((t, i) => {
    const at = `added_tokens[${i}]`;
    if (!isObj(t)) return fail(at, `must be an object with "id" and "content", not ${preview(t)}`);
    if (typeof t.content !== 'string' || t.content === '') fail(`${at}.content`, `must be a non-empty string, not ${preview(t.content)}`);
    const content = t.content as string;
    if (content.length > TOKENIZER_CAPS.tokenChars) fail(`${at}.content`, `has ${content.length} characters, more than the ${TOKENIZER_CAPS.tokenChars} allowed`);
    chars += content.length;
    if (chars > TOKENIZER_CAPS.addedChars) fail(`${at}.content`, `brings the added tokens to more than the ${TOKENIZER_CAPS.addedChars} characters allowed`);
    const id = t.id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`${at}.id`, `must be a non-negative integer token id, not ${preview(id)} (${JSON.stringify(content.slice(0, 40))})`);
    const quoted = JSON.stringify(content.slice(0, 40));
    if (vocabSize === null && (id as number) >= bound) fail(`${at}.id`, `${id as number} (${quoted}) is outside the vocabulary (model.vocab and added_tokens) of ${bound} tokens`);
    if ((id as number) >= TOKENIZER_CAPS.vocab) fail(`${at}.id`, `${id as number} (${quoted}) is past the largest token id allowed (${TOKENIZER_CAPS.vocab - 1})`);
    const before = seen.get(id as number);
    if (before !== undefined) fail(`${at}.id`, `${id as number} is also the id of added_tokens[${before}]`);
    seen.set(id as number, i);
    if (vocabSize !== null && (id as number) >= vocabSize) beyond.push({ entry: at, id: id as number, content });
  });
  return beyond;
}

/** The regex patterns of the normalizer, pre-tokenizer and decoder, with their JSON paths. */
function patternNodes(tj: Obj): { path: string; node: Obj }[] {
  const out: { path: string; node: Obj }[] = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (isObj(v)) {
      for (const k in v) {
        if (k === 'pattern' && isObj(v[k])) out.push({ path: `${path}.pattern`, node: v[k] });
        else walk(v[k], `${path}.${k}`);
      }
    }
  };
  for (const root of ['normalizer', 'pre_tokenizer', 'decoder'] as const) walk(tj[root], root);
  return out;
}

/** What the library is built from, and how to put the linear-time patterns in afterwards. */
export interface CheckedTokenizer {
  /** tokenizer.json with each re2js pattern replaced by a placeholder the library compiles harmlessly. */
  json: Obj;
  /** Puts the linear-time patterns into the library's built normalizer, pre-tokenizer and decoder. */
  install(tokenizer: object): void;
  /** Characters of the longest vocabulary or added token: no token covers more of a text. */
  longestToken: number;
  /** Added tokens past config.json's vocab_size: in the file, but no row of the model. */
  beyondVocab: BeyondVocabToken[];
}

/** A placeholder String pattern: never found in text, so it changes nothing until it is replaced. */
const PLACEHOLDER = '\u{10FFFF}\uFFFF\u{10FFFE}';

/**
 * Validates tokenizer.json (`file` names it in refusals) against `vocabSize` (config.json's
 * vocab_size, when known) and prepares its regexes for linear-time matching.
 */
export function checkTokenizerJson(tj: Obj, file: string, vocabSize: number | null): CheckedTokenizer {
  const fail = failIn(file);
  if (!isObj(tj.model)) return fail(null, 'is not a Hugging Face tokenizers file (no "model")');
  const model = tj.model;
  const vocab = vocabMap(model, fail);
  checkMerges(model, vocab, fail);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const addedCount = Array.isArray(tj.added_tokens) ? tj.added_tokens.length : 0;
  // Without config.json, added tokens may follow the vocabulary (Qwen's do): up to one id each.
  const bound = vocabSize ?? Math.max(vocab.size, maxId + 1) + addedCount;
  const beyondVocab = checkAddedTokens(tj, vocabSize, bound, fail);
  let longestToken = 1;
  for (const t of vocab.keys()) if (t.length > longestToken) longestToken = t.length;
  // Checked above: a list of objects with string contents.
  if (Array.isArray(tj.added_tokens)) for (const t of tj.added_tokens as { content: string }[]) if (t.content.length > longestToken) longestToken = t.content.length;

  const replaced = new Map<Obj, LinearPattern>();
  const roots: Obj = {};
  for (const { path, node } of patternNodes(tj)) {
    if (typeof node.Regex === 'string') {
      const linear = compileTokenizerRegex(node.Regex, `${path}.Regex`, fail);
      if (linear) replaced.set(node, linear);
    } else if (node.Regex !== undefined) fail(`${path}.Regex`, `must be a string, not ${preview(node.Regex)}`);
    else if (node.String !== undefined && typeof node.String !== 'string') fail(`${path}.String`, `must be a string, not ${preview(node.String)}`);
  }
  // The library's pattern objects keep their config node: the copy's placeholder nodes map back here.
  const placeholders = new Map<Obj, LinearPattern>();
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(copy);
    if (!isObj(v)) return v;
    const linear = replaced.get(v);
    if (linear) {
      const node = { String: PLACEHOLDER };
      placeholders.set(node, linear);
      return node;
    }
    const o: Obj = {};
    for (const k in v) o[k] = copy(v[k]);
    return o;
  };
  for (const root of ['normalizer', 'pre_tokenizer', 'decoder'] as const) roots[root] = copy(tj[root]);
  return {
    longestToken,
    beyondVocab,
    json: { ...tj, ...roots },
    install(tokenizer) {
      const t = tokenizer as Obj;
      let installed = 0;
      const seen = new Set<object>();
      const walk = (v: unknown): void => {
        // The library's normalizers, pre-tokenizers and decoders are callable objects (functions).
        if ((typeof v !== 'object' && typeof v !== 'function') || v === null || seen.has(v)) return;
        seen.add(v);
        if (Array.isArray(v)) return v.forEach(walk);
        const o = v as Obj;
        const cfg = o.config;
        if (isObj(cfg) && isObj(cfg.pattern) && placeholders.has(cfg.pattern) && o.pattern instanceof RegExp) {
          o.pattern = placeholders.get(cfg.pattern);
          installed++;
        }
        for (const k of Object.keys(o)) if (k !== 'config') walk(o[k]);
      };
      for (const root of ['normalizer', 'pre_tokenizer', 'decoder']) walk(t[root]);
      // Fail closed: a pattern the walk did not reach would run as the placeholder (never matching).
      if (installed !== placeholders.size) {
        throw new DatasetError(`${file}: ${placeholders.size - installed} regular expression(s) could not be installed for linear-time matching`);
      }
      if (installed) rebuildNormalizedAddedTokens(t);
    },
  };
}

/**
 * The library normalizes `normalized` added tokens while it is built, with the placeholder pattern
 * then; this redoes that step (its constructor's loop) with the installed patterns.
 */
function rebuildNormalizedAddedTokens(t: Obj): void {
  const normalizer = t.normalizer as ((s: string) => string) | null;
  const tokens = t.added_tokens as { content: string; normalized: boolean }[];
  const map = t.added_tokens_map as Map<string, unknown>;
  if (!normalizer || !tokens.some((a) => a.normalized)) return;
  map.clear();
  const normalized: string[] = [];
  for (const a of tokens) {
    map.set(a.content, a);
    if (a.normalized) {
      const n = normalizer(a.content);
      normalized.push(n);
      map.set(n, a);
    }
  }
  const Splitter = (t.splitter_normalized as object).constructor as new (words: string[]) => object;
  t.splitter_normalized = new Splitter(normalized);
}
