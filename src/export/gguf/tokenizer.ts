// tokenizer.ggml.* metadata from a Hugging Face tokenizer.json + tokenizer_config.json, as
// llama.cpp's convert_hf_to_gguf.py writes it for byte-level BPE tokenizers (`_set_vocab_gpt2`).
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
import { pickTemplate, type TokenizerFiles } from '../../data/tokenizer';
import { checkTokenizerJson } from '../../data/tokenizer-check';
import { DatasetError } from '../../data/errors';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, control: 3, userDefined: 4, unused: 5 } as const;

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
  if (model.type !== 'BPE') fail(`model.type ${JSON.stringify(model.type)}: llama.cpp's GGUF takes byte-level BPE tokenizers here (gpt2); others are not exported`);
  if (!contains(tj.pre_tokenizer, 'ByteLevel')) fail('pre_tokenizer is not byte-level (ByteLevel): a SentencePiece-style BPE is not exported to GGUF');
  if (tj.normalizer !== null && tj.normalizer !== undefined && !(isObj(tj.normalizer) && tj.normalizer.type === 'NFC')) {
    fail(`normalizer ${JSON.stringify((tj.normalizer as Obj).type ?? tj.normalizer)} cannot be expressed in GGUF (supported: none, NFC)`);
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
  const specials: string[] = [];
  if (Array.isArray(tj.added_tokens)) {
    for (const t of tj.added_tokens) {
      if (!isObj(t) || typeof t.content !== 'string') continue;
      put(t.content, t.id, 'added_tokens');
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
  let pre = preTokenizerName(tj.pre_tokenizer);
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
  // add_bos: tokenizer_config's flag, else whether the post-processor puts the BOS first.
  let addBos = false;
  if (typeof cfg.add_bos_token === 'boolean') addBos = cfg.add_bos_token;
  else if (bos !== null && isObj(tj.post_processor)) {
    const single = (tj.post_processor as Obj).single;
    const first = Array.isArray(single) && isObj(single[0]) ? (single[0] as Obj).SpecialToken : undefined;
    addBos = isObj(first) && first.id === tokens[bos];
  }
  const addEos = cfg.add_eos_token === true;

  const template = chatTemplateOf(files);
  // {% generation %} marks the assistant's tokens for training masks; it renders nothing, and
  // older llama.cpp template engines do not know the tag.
  const chatTemplate = template === null ? null : template.replace(/\{%-?\s*(end)?generation\s*-?%\}/g, '');

  const kv: Kv = {
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: pre },
    'tokenizer.ggml.tokens': { type: 'string[]', value: tokens as string[] },
    'tokenizer.ggml.token_type': { type: 'i32[]', value: types },
    'tokenizer.ggml.merges': { type: 'string[]', value: merges },
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
