// tokenizer.ggml.* metadata from a Hugging Face tokenizer.json + tokenizer_config.json, as
// llama.cpp's convert_hf_to_gguf.py writes it for byte-level BPE tokenizers (`_set_vocab_gpt2`:
// model "gpt2", merges) and for SentencePiece-style BPE (`_set_vocab_sentencepiece`: model
// "llama", per-token scores and types; Gemma, Llama 2, Phi-3-mini).
//
// SentencePiece-style: a BPE model with byte_fallback whose normalizer turns spaces into "▁"
// (optionally prepending one: add_space_prefix) and no byte-level pre-tokenizer. llama.cpp's SPM
// tokenizer merges the adjacent pair whose merged piece has the highest score; transformers merges
// the pair of lowest rank in tokenizer.json's merges. Without the tokenizer.model (its scores), a
// piece's score is minus the rank of the first merge that makes it, so both merge in the same
// order; pieces no merge makes score -1e9 (never preferred). <0xNN> pieces are BYTE (byte fallback).
//
// Pre-tokenizer name (tokenizer.ggml.pre): convert_hf_to_gguf.py hashes the ids of a probe string
// and looks the hash up in a table; here the tokenizer.json's pre-tokenizer itself is recognised
// (the regex llama.cpp implements for each name, llama-vocab.cpp):
//   ByteLevel(use_regex)                               -> "gpt-2"
//   Split(Llama 3 regex) + ByteLevel(no regex)         -> "llama-bpe"
//   Split(Qwen2 regex) + ByteLevel(no regex)           -> "qwen2"
//   Digits(individual) + ByteLevel(use_regex)          -> "smollm"
// Any other byte-level pre-tokenizer falls back to "default" (llama.cpp's generic BPE split, which
// llama.cpp itself uses when the name is missing): the file loads and runs, but text may be split
// into different tokens than transformers gives; the exporter reports this as a warning.
// What llama.cpp cannot express is refused by name: a model other than BPE, BPE that is not
// byte-level, a normalizer other than none/NFC.

import { GgufExportError } from './errors';
import type { Kv } from './writer';
import { pickTemplate, tokenizerAddsBos, type TokenizerFiles } from '../../data/tokenizer';
import { checkTokenizerJson } from '../../data/tokenizer-check';
import { DatasetError } from '../../data/errors';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface TokenizerMetadata {
  kv: Kv;
  /** tokenizer.ggml.pre written. */
  pre: string;
  /** The chat template written (generation tags removed), or null. */
  chatTemplate: string | null;
  /** Strings that end a turn (the EOS and the special end-of-turn tokens), for Ollama's stop. */
  stops: string[];
  warnings: string[];
}

function preTokenizerName(pre: unknown): string | null {
  const list = isObj(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) ? pre.pretokenizers : [pre];
  const [a, b] = list as Obj[];
  const byteLevel = (x: unknown, regex: boolean): boolean => isObj(x) && x.type === 'ByteLevel' && (x.use_regex !== false) === regex;
  if (list.length === 1 && byteLevel(a, true)) return 'gpt-2';
  if (list.length === 2 && isObj(a) && a.type === 'Split' && isObj(a.pattern) && byteLevel(b, false)) {
    if (a.pattern.Regex === LLAMA3_REGEX) return 'llama-bpe';
    if (a.pattern.Regex === QWEN2_REGEX) return 'qwen2';
  }
  if (list.length === 2 && isObj(a) && a.type === 'Digits' && a.individual_digits === true && byteLevel(b, true)) return 'smollm';
  return null;
}

function contains(node: unknown, type: string): boolean {
  if (Array.isArray(node)) return node.some((n) => contains(n, type));
  if (!isObj(node)) return false;
  return node.type === type || Object.values(node).some((v) => typeof v === 'object' && contains(v, type));
}

const content = (v: unknown): string | null => (typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : null);

/** The chat template a folder uses (chat_template.jinja wins over tokenizer_config's, as ModelTokenizer reads it). */
export function chatTemplateOf(files: TokenizerFiles): string | null {
  if (files.chatTemplate && files.chatTemplate.trim()) return files.chatTemplate;
  return pickTemplate(isObj(files.tokenizerConfig) ? files.tokenizerConfig.chat_template : undefined);
}

/**
 * The tokenizer metadata of a GGUF model file. `vocabSize` is the embedding's row count: ids the
 * tokenizer does not use are written as "[PADi]" of type unused, as convert_hf_to_gguf.py does.
 * `configIds` are config.json's ids, used when tokenizer_config.json does not name the token.
 */
export function tokenizerMetadata(
  files: TokenizerFiles,
  vocabSize: number,
  configIds: { bos: number | null; eos: number | number[] | null; pad: number | null },
): TokenizerMetadata {
  const fail = (msg: string): never => {
    throw new GgufExportError(`tokenizer.json: ${msg}`);
  };
  const tj = files.tokenizerJson;
  if (!isObj(tj) || !isObj(tj.model)) return fail('not a Hugging Face tokenizers file (no "model")');
  // The one validation of tokenizer.json (ids within vocab_size, no id twice, merges over known tokens, regexes, caps).
  try {
    checkTokenizerJson(tj, 'tokenizer.json', vocabSize);
  } catch (e) {
    if (e instanceof DatasetError) throw new GgufExportError(e.message);
    throw e;
  }
  const model = tj.model;
  if (model.type !== 'BPE') fail(`model.type ${JSON.stringify(model.type)}: llama.cpp's GGUF takes BPE tokenizers here (byte-level or SentencePiece-style); others are not exported`);
  const spm = sentencePieceStyle(tj, fail);
  if (spm === null && tj.normalizer !== null && tj.normalizer !== undefined && !(isObj(tj.normalizer) && tj.normalizer.type === 'NFC')) {
    fail(`normalizer ${JSON.stringify((tj.normalizer as Obj).type ?? tj.normalizer)} cannot be expressed in GGUF (supported: none, NFC; or a SentencePiece-style "▁" normalizer)`);
  }
  if (!isObj(model.vocab)) return fail('model.vocab must be an object');
  if (!Array.isArray(model.merges)) return fail('model.merges must be a list');

  const tokens: (string | undefined)[] = new Array<string | undefined>(vocabSize).fill(undefined);
  const types = new Array<number>(vocabSize).fill(TOKEN_TYPE.normal);
  const ids = new Map<string, number>();
  const put = (tok: string, id: unknown, where: string): void => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`${where}: id ${JSON.stringify(id)} of "${tok}" is not a token id`);
    if ((id as number) >= vocabSize) fail(`${where}: id ${id} of "${tok}" is outside the model's vocab_size ${vocabSize}`);
    tokens[id as number] = tok;
    ids.set(tok, id as number);
  };
  for (const [tok, id] of Object.entries(model.vocab)) put(tok, id, 'model.vocab');
  if (spm !== null) {
    for (const [tok, id] of ids) if (/^<0x[0-9A-F]{2}>$/.test(tok)) types[id] = TOKEN_TYPE.byte;
    if (typeof model.unk_token === 'string' && ids.has(model.unk_token)) types[ids.get(model.unk_token)!] = TOKEN_TYPE.unknown;
  }
  const specials: string[] = [];
  const outside: string[] = [];
  if (Array.isArray(tj.added_tokens)) {
    for (const t of tj.added_tokens) {
      if (!isObj(t) || typeof t.content !== 'string') continue;
      // An added token past the embedding (Gemma 3's text models: <image_soft_token> = vocab_size)
      // cannot be a token of this model: left out, as convert_hf_to_gguf.py leaves it.
      if (typeof t.id === 'number' && t.id >= vocabSize && Number.isInteger(t.id)) {
        outside.push(t.content);
        continue;
      }
      put(t.content, t.id, 'added_tokens');
      if (types[t.id as number] === TOKEN_TYPE.unknown) continue;
      types[t.id as number] = t.special === true ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
      if (t.special === true) specials.push(t.content);
    }
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const merges = (model.merges as unknown[]).map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0]} ${m[1]}`;
    return fail(`model.merges[${i}] is neither "a b" nor ["a", "b"]`);
  });

  const warnings: string[] = [];
  if (outside.length) warnings.push(`tokenizer.json: ${outside.length} added token(s) have ids past the model's vocab_size ${vocabSize} and are left out: ${outside.slice(0, 3).join(', ')}`);
  let pre = spm !== null ? 'default' : preTokenizerName(tj.pre_tokenizer);
  if (pre === null) {
    pre = 'default';
    warnings.push(
      'tokenizer.json: this pre-tokenizer has no llama.cpp name; the GGUF says "default" (llama.cpp\'s generic split), so llama.cpp may split some text differently',
    );
  }

  const cfg: Obj = isObj(files.tokenizerConfig) ? files.tokenizerConfig : {};
  const idOf = (tok: string | null): number | null => {
    if (tok === null) return null;
    return ids.get(tok) ?? null;
  };
  const firstId = (v: number | number[] | null): number | null => (Array.isArray(v) ? (v[0] ?? null) : v);
  const bos = idOf(content(cfg.bos_token)) ?? configIds.bos;
  const eos = idOf(content(cfg.eos_token)) ?? firstId(configIds.eos);
  const pad = idOf(content(cfg.pad_token)) ?? configIds.pad;
  const unk = idOf(content(cfg.unk_token));
  // add_bos: the training pipeline's one BOS rule (tokenizer_config's flag, else the post-processor, also inside a Sequence).
  const addBos = bos !== null && tokens[bos] !== undefined && tokenizerAddsBos(tj, cfg, tokens[bos]);
  const addEos = cfg.add_eos_token === true;

  const template = chatTemplateOf(files);
  // {% generation %} marks the assistant's tokens for training masks; it renders nothing, and
  // older llama.cpp template engines do not know the tag.
  const chatTemplate = template === null ? null : template.replace(/\{%-?\s*(end)?generation\s*-?%\}/g, '');

  const kv: Kv = {
    'tokenizer.ggml.model': { type: 'string', value: spm !== null ? 'llama' : 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: pre },
    'tokenizer.ggml.tokens': { type: 'string[]', value: tokens as string[] },
    ...(spm !== null ? { 'tokenizer.ggml.scores': { type: 'f32[]', value: pieceScores(tokens as string[], types, merges) } as const } : {}),
    'tokenizer.ggml.token_type': { type: 'i32[]', value: types },
    ...(spm !== null
      ? { 'tokenizer.ggml.add_space_prefix': { type: 'bool', value: spm.addSpacePrefix } as const }
      : { 'tokenizer.ggml.merges': { type: 'string[]', value: merges } as const }),
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: addBos },
    'tokenizer.ggml.add_eos_token': { type: 'bool', value: addEos },
  };
  if (bos !== null) kv['tokenizer.ggml.bos_token_id'] = { type: 'u32', value: bos };
  if (eos !== null) kv['tokenizer.ggml.eos_token_id'] = { type: 'u32', value: eos };
  if (pad !== null) kv['tokenizer.ggml.padding_token_id'] = { type: 'u32', value: pad };
  if (unk !== null) kv['tokenizer.ggml.unknown_token_id'] = { type: 'u32', value: unk };
  if (chatTemplate !== null) kv['tokenizer.chat_template'] = { type: 'string', value: chatTemplate };

  const stops = new Set<string>();
  if (eos !== null) stops.add(tokens[eos]!);
  for (const s of specials) if (/^<\|(im_end|eot_id|eom_id|end|endoftext|end_of_text)\|>$|^<end_of_turn>$|^<\/s>$/.test(s)) stops.add(s);
  return { kv, pre, chatTemplate, stops: [...stops], warnings };
}

/**
 * Whether tokenizer.json is SentencePiece-style BPE (see the header) and whether it prepends "▁"
 * (add_space_prefix), or null for a byte-level one; any other pre-tokenization is refused by name.
 */
function sentencePieceStyle(tj: Obj, fail: (msg: string) => never): { addSpacePrefix: boolean } | null {
  if (contains(tj.pre_tokenizer, 'ByteLevel')) return null;
  const model = tj.model as Obj;
  const norm = tj.normalizer;
  const steps = isObj(norm) && norm.type === 'Sequence' && Array.isArray(norm.normalizers) ? (norm.normalizers as unknown[]) : [norm];
  const isReplace = (x: unknown): boolean => isObj(x) && x.type === 'Replace' && isObj(x.pattern) && x.pattern.String === ' ' && x.content === '▁';
  const isPrepend = (x: unknown): boolean => isObj(x) && x.type === 'Prepend' && x.prepend === '▁';
  const known = (steps.length === 1 && isReplace(steps[0])) || (steps.length === 2 && isPrepend(steps[0]) && isReplace(steps[1]));
  if (model.byte_fallback !== true || !known) {
    fail('pre_tokenizer is not byte-level (ByteLevel), and the tokenizer is not SentencePiece-style BPE (byte_fallback with a "▁" Replace normalizer): llama.cpp cannot express it');
  }
  // After the normalizer no space is left, so a Split on " " splits nothing.
  const pre = tj.pre_tokenizer;
  const noop = pre === null || pre === undefined || (isObj(pre) && pre.type === 'Split' && isObj(pre.pattern) && pre.pattern.String === ' ');
  if (!noop) fail(`pre_tokenizer ${JSON.stringify((pre as Obj).type)} on a SentencePiece-style tokenizer: llama.cpp's SPM tokenizer does not pre-tokenize`);
  return { addSpacePrefix: steps.length === 2 };
}

/** SentencePiece scores for llama.cpp's SPM merging: minus the rank of the first merge making each piece (see the header). */
function pieceScores(tokens: readonly string[], types: readonly number[], merges: readonly string[]): number[] {
  const rank = new Map<string, number>();
  merges.forEach((m, r) => {
    const sp = m.indexOf(' ');
    const piece = m.slice(0, sp) + m.slice(sp + 1);
    if (!rank.has(piece)) rank.set(piece, r);
  });
  return tokens.map((t, i) => {
    if (types[i] !== TOKEN_TYPE.normal) return types[i] === TOKEN_TYPE.byte ? 0 : -1000; // as _set_vocab_sentencepiece's added tokens
    const r = rank.get(t);
    return r !== undefined ? -r : [...t].length === 1 ? 0 : -1e9;
  });
}
