// The model's tokenizer (@huggingface/tokenizers over tokenizer.json) and chat template, plus
// token -> char offsets (Python tokenizers' offsets, which this JS port does not return).
import { Tokenizer } from '@huggingface/tokenizers';
import { DatasetError, RecordError } from './errors';
import { CHATML_TEMPLATE, ChatTemplate, type CharSpan } from './template';
import { TemplateBudgetError } from './template-budget';
import { checkFileSize, MAX_CONFIG_BYTES, MAX_TOKENIZER_BYTES, parseUntrustedJson, type TextFolder } from '../io/untrusted/json';
import { MODEL_LIMITS } from '../io/untrusted/limits';
import { checkTokenizerJson, type BeyondVocabToken } from './tokenizer-check';

/** The parsed files of a model folder (the CLI reads them from disk, the UI from the Hub/cache). */
export interface TokenizerFiles {
  /** Parsed tokenizer.json. */
  tokenizerJson: unknown;
  /** Parsed tokenizer_config.json (special tokens, chat_template). */
  tokenizerConfig?: unknown;
  /** Contents of chat_template.jinja when the folder has one; it wins over tokenizer_config's. */
  chatTemplate?: string;
  /** The folder, named in refusals (`DIR/tokenizer.json: added_tokens[3].id …`). */
  dir?: string;
  /** config.json's vocab_size (the embedding's rows), which every token id must stay below. */
  vocabSize?: number | null;
}

/** The raw texts of a model folder's tokenizer files (each read with its size checked first). */
export interface TokenizerTexts {
  tokenizerJson: string;
  tokenizerConfig?: string;
  chatTemplate?: string;
  /** config.json, for its vocab_size. */
  modelConfig?: string;
}

/** Largest file each tokenizer text may be, checked on the file's size before it is read. */
export const TOKENIZER_FILE_LIMITS: Readonly<Record<keyof TokenizerTexts, number>> = {
  tokenizerJson: MAX_TOKENIZER_BYTES,
  tokenizerConfig: MAX_CONFIG_BYTES,
  chatTemplate: 1 << 20,
  modelConfig: MAX_CONFIG_BYTES,
};

/** A model folder as the tokenizer reader needs it (ModelFolder's shape, without importing the engine). */
export type TokenizerFolder = TextFolder & { has(file: string): Promise<boolean> };

/**
 * The one reader of a model folder's tokenizer files (the worker, the CLI and every exporter): each
 * file's size is checked against TOKENIZER_FILE_LIMITS before it is read; DatasetError names it.
 */
export async function readTokenizerTexts(folder: TokenizerFolder): Promise<TokenizerTexts> {
  if (!(await folder.has('tokenizer.json'))) {
    throw new DatasetError(`${folder.name}: tokenizer.json is missing (only fast tokenizers are supported: is this a Hugging Face model folder?)`);
  }
  const read = async (f: string, max: number): Promise<string | undefined> => {
    if (!(await folder.has(f))) return undefined;
    checkFileSize((await folder.source(f)).size, max, (_field, detail) => {
      throw new DatasetError(`${folder.name}/${f} ${detail}`);
    });
    return folder.text(f);
  };
  return {
    tokenizerJson: (await read('tokenizer.json', TOKENIZER_FILE_LIMITS.tokenizerJson))!,
    tokenizerConfig: await read('tokenizer_config.json', TOKENIZER_FILE_LIMITS.tokenizerConfig),
    chatTemplate: await read('chat_template.jinja', TOKENIZER_FILE_LIMITS.chatTemplate),
    modelConfig: await read('config.json', TOKENIZER_FILE_LIMITS.modelConfig),
  };
}

/** readTokenizerTexts, parsed as untrusted JSON (parseTokenizerTexts). */
export async function readTokenizerFiles(folder: TokenizerFolder): Promise<TokenizerFiles> {
  return parseTokenizerTexts(await readTokenizerTexts(folder), folder.name);
}

/** Parses the tokenizer files of `dir` as untrusted JSON (size, depth); DatasetError names the file. */
export function parseTokenizerTexts(texts: TokenizerTexts, dir: string): TokenizerFiles {
  const parse = (text: string, file: string, maxBytes: number): unknown =>
    parseUntrustedJson(text, `${dir}/${file}`, { maxBytes }, (_field, detail) => {
      throw new DatasetError(`${dir}/${file} ${detail}`);
    });
  const config = texts.modelConfig === undefined ? undefined : parse(texts.modelConfig, 'config.json', MAX_CONFIG_BYTES);
  const vocabSize = isObj(config) ? config.vocab_size : undefined;
  return {
    tokenizerJson: parse(texts.tokenizerJson, 'tokenizer.json', MAX_TOKENIZER_BYTES),
    tokenizerConfig: texts.tokenizerConfig === undefined ? {} : parse(texts.tokenizerConfig, 'tokenizer_config.json', MAX_CONFIG_BYTES),
    chatTemplate: texts.chatTemplate,
    dir,
    // A bad vocab_size is config.json's reader's to refuse; here only a usable one bounds the ids.
    vocabSize: typeof vocabSize === 'number' && Number.isInteger(vocabSize) && vocabSize > 0 && vocabSize <= MODEL_LIMITS.vocab_size ? vocabSize : null,
  };
}

/**
 * Whether Python's `tokenizer(text)` puts `bosToken` first: tokenizer_config's add_bos_token when it
 * is set, else whether tokenizer.json's post-processor starts a single sequence with it. (The GGUF
 * exporter's `tokenizer.ggml.add_bos_token` is the same fact.)
 */
export function tokenizerAddsBos(tokenizerJson: unknown, tokenizerConfig: unknown, bosToken: string): boolean {
  const cfg = isObj(tokenizerConfig) ? tokenizerConfig : {};
  if (typeof cfg.add_bos_token === 'boolean') return cfg.add_bos_token;
  return isObj(tokenizerJson) && postProcessorStartsWith(tokenizerJson.post_processor, bosToken);
}

/** Whether a tokenizer.json post_processor (or one in its Sequence) puts `token` first in a single sequence. */
function postProcessorStartsWith(pp: unknown, token: string): boolean {
  if (!isObj(pp)) return false;
  if (Array.isArray(pp.processors)) return pp.processors.some((p) => postProcessorStartsWith(p, token));
  if (pp.type !== 'TemplateProcessing' || !Array.isArray(pp.single)) return false;
  const first: unknown = pp.single[0];
  return isObj(first) && isObj(first.SpecialToken) && first.SpecialToken.id === token;
}

/** End-of-turn markers searched for when a template has no {% generation %} tags. */
const KNOWN_END_OF_TURN = [
  '<|im_end|>',
  '<|eot_id|>',
  '<|eom_id|>',
  '<|end|>',
  '<end_of_turn>',
  '<|end_of_text|>',
  '<|endoftext|>',
  '</s>',
  '<|END_OF_TURN_TOKEN|>',
  '<｜end▁of▁sentence｜>',
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.content === 'string') return v.content;
  return null;
}

/** A tokenizer_config chat_template: the string, or the "default" (else first) of a named list. */
export function pickTemplate(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.filter(isObj);
    const def = named.find((t) => t.name === 'default') ?? named[0];
    if (def && typeof def.template === 'string') return def.template;
  }
  return null;
}

type ByteMode = 'bytelevel' | 'metaspace' | 'plain';

function containsType(node: unknown, type: string): boolean {
  if (Array.isArray(node)) return node.some((n) => containsType(n, type));
  if (!isObj(node)) return false;
  if (node.type === type) return true;
  return Object.values(node).some((v) => typeof v === 'object' && containsType(v, type));
}

let BYTE_DECODER: Map<string, number> | null = null;
/** GPT-2's bytes_to_unicode, inverted: the char a byte-level token uses for each byte. */
function byteDecoder(): Map<string, number> {
  if (BYTE_DECODER) return BYTE_DECODER;
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  BYTE_DECODER = new Map(bs.map((b, i) => [String.fromCharCode(cs[i]), b]));
  return BYTE_DECODER;
}

const utf8 = new TextEncoder();

/** Token ids with the [start, end) UTF-16 char offsets of each token in the encoded text. */
export interface OffsetEncoding {
  ids: number[];
  /** Per token: first char (UTF-16 index), or -1 for a token that covers no text. */
  starts: Int32Array;
  /** Per token: one past its last char. */
  ends: Int32Array;
}

/**
 * A model's tokenizer and chat template. Build it with `ModelTokenizer.load(files)`.
 * `encode` never adds special tokens (like `add_special_tokens=False`); `withBos` is the one place
 * a BOS is added. Text and completion examples get an EOS appended.
 */
export class ModelTokenizer {
  readonly tokenizer: Tokenizer;
  readonly template: ChatTemplate;
  /** True when the model has no chat template and ChatML is used. */
  readonly templateIsDefault: boolean;
  /** About the tokenizer (missing EOS...). */
  readonly warnings: string[] = [];
  /** About the chat template (the ChatML default...): relevant to chat data only. */
  readonly templateWarnings: string[] = [];
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /**
   * Whether the tokenizer puts BOS first by default, as Python's `tokenizer(text)` does:
   * tokenizer_config's add_bos_token, else whether tokenizer.json's post-processor starts with it.
   */
  readonly addsBos: boolean;
  /** pad_token's id, else EOS's, else 0 (padding is never attended nor trained). */
  readonly padId: number;
  /** Strings that close an assistant turn, for templates without generation tags. */
  readonly endOfTurn: string[];
  /** Characters of the longest token (vocabulary or added): n tokens never cover more than n × this of a text. */
  readonly longestToken: number;
  private readonly byteMode: ByteMode;
  /** tokenizer.json as refusals name it (`DIR/tokenizer.json`). */
  private readonly file: string;
  /** config.json's vocab_size: every id an encoding gives must stay below it (null: unknown). */
  private readonly vocabSize: number | null;
  /** Added tokens past vocab_size, by id: kept in the file, refused in any text that encodes to them. */
  private readonly beyondVocab: Map<number, BeyondVocabToken>;
  private readonly added: Map<number, { content: string; lstrip: boolean; rstrip: boolean; special: boolean }>;

  private constructor(files: TokenizerFiles) {
    const tj = files.tokenizerJson;
    const file = files.dir ? `${files.dir}/tokenizer.json` : 'tokenizer.json';
    if (!isObj(tj) || !isObj(tj.model)) throw new DatasetError(`${file}: not a Hugging Face tokenizers file (no "model")`);
    this.file = file;
    this.vocabSize = files.vocabSize ?? null;
    const checked = checkTokenizerJson(tj, file, this.vocabSize);
    this.beyondVocab = new Map(checked.beyondVocab.map((t) => [t.id, t]));
    if (checked.beyondVocab.length) {
      const listed = checked.beyondVocab.slice(0, 5).map((t) => `${t.entry} ${JSON.stringify(t.content.slice(0, 40))} (id ${t.id})`);
      const more = checked.beyondVocab.length - listed.length;
      this.warnings.push(
        `${file}: ${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''} ${checked.beyondVocab.length === 1 ? 'is' : 'are'} past the model's ` +
          `vocab_size ${this.vocabSize} (config.json): not tokens of this model; text that encodes to ${checked.beyondVocab.length === 1 ? 'it' : 'one'} is refused`,
      );
    }
    const cfg: Obj = isObj(files.tokenizerConfig) ? files.tokenizerConfig : {};
    try {
      this.tokenizer = new Tokenizer(checked.json, cfg);
    } catch (e) {
      // The library throws plain errors (TypeError…) for malformed files.
      throw new DatasetError(`${file} cannot be loaded (${e instanceof Error ? e.message : String(e)})`);
    }
    checked.install(this.tokenizer);
    this.longestToken = checked.longestToken;
    this.byteMode =
      containsType(tj.pre_tokenizer, 'ByteLevel') || containsType(tj.decoder, 'ByteLevel')
        ? 'bytelevel'
        : containsType(tj.decoder, 'Metaspace') || containsType(tj.pre_tokenizer, 'Metaspace') ||
            containsType(tj.decoder, 'ByteFallback')
          ? 'metaspace'
          : 'plain';
    this.added = new Map();
    if (Array.isArray(tj.added_tokens)) {
      for (const t of tj.added_tokens) {
        if (isObj(t) && typeof t.id === 'number' && typeof t.content === 'string') {
          this.added.set(t.id, { content: t.content, lstrip: t.lstrip === true, rstrip: t.rstrip === true, special: t.special === true });
        }
      }
    }
    const id = (tok: string | null): number | null => {
      if (tok === null) return null;
      const v = this.tokenizer.token_to_id(tok);
      return v === undefined ? null : v;
    };
    this.bosToken = tokenContent(cfg.bos_token);
    this.eosToken = tokenContent(cfg.eos_token);
    this.padToken = tokenContent(cfg.pad_token);
    this.bosId = id(this.bosToken);
    this.eosId = id(this.eosToken);
    if (this.eosToken !== null && this.eosId === null) {
      this.warnings.push(`eos_token '${this.eosToken}' is not in the vocabulary; no EOS is appended to text examples`);
    } else if (this.eosToken === null) {
      this.warnings.push('tokenizer_config.json has no eos_token; no EOS is appended to text and completion examples');
    }
    this.padId = id(this.padToken) ?? this.eosId ?? 0;
    this.addsBos = this.bosId !== null && tokenizerAddsBos(tj, cfg, this.bosToken!);

    // The render context transformers passes: its special_tokens_map (None values left out).
    const ctx: Obj = {};
    for (const k of ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const) {
      const v = tokenContent(cfg[k]);
      if (v !== null) ctx[k] = v;
    }
    if (Array.isArray(cfg.additional_special_tokens)) {
      ctx.additional_special_tokens = cfg.additional_special_tokens.map(tokenContent).filter((v) => v !== null);
    }
    const source = (files.chatTemplate && files.chatTemplate.trim() ? files.chatTemplate : null) ?? pickTemplate(cfg.chat_template);
    this.templateIsDefault = source === null;
    try {
      this.template = new ChatTemplate(source ?? CHATML_TEMPLATE, ctx);
    } catch (e) {
      if (e instanceof TemplateBudgetError) throw e;
      const file = files.chatTemplate && files.chatTemplate.trim() ? 'chat_template.jinja' : 'tokenizer_config.json chat_template';
      throw new DatasetError(`${file} cannot be compiled (${e instanceof Error ? e.message : String(e)})`);
    }
    if (this.templateIsDefault) {
      this.templateWarnings.push(
        'this model has no chat template: chat data is formatted as ChatML (<|im_start|>role\\n...<|im_end|>); ' +
          'use the same format at inference',
      );
      if (this.tokenizer.token_to_id('<|im_end|>') === undefined) {
        this.templateWarnings.push(
          "ChatML's <|im_start|> and <|im_end|> are not tokens of this tokenizer: they are split into ordinary pieces " +
            '(consider the text or completion format for a base model)',
        );
      }
    }
    const eot = new Set<string>();
    if (this.eosToken) eot.add(this.eosToken);
    for (const t of KNOWN_END_OF_TURN) if (this.tokenizer.token_to_id(t) !== undefined) eot.add(t);
    if (this.templateIsDefault) eot.add('<|im_end|>');
    this.endOfTurn = [...eot];
    // The template's own special tokens are in every sequence: one past the embedding is refused here.
    const roles: [string, string | null][] = [['bos_token', this.bosToken], ['eos_token', this.eosToken], ['pad_token', this.padToken]];
    for (const t of this.endOfTurn) roles.push(['end-of-turn token', t]);
    for (const [role, content] of roles) {
      const v = content === null ? null : id(content);
      const past = v === null ? undefined : this.beyondVocab.get(v);
      if (past) {
        throw new DatasetError(
          `${file}: the ${role} ${JSON.stringify(content)} is ${past.entry} (id ${past.id}), past the model's vocab_size ${this.vocabSize} (config.json)`,
        );
      }
    }
  }

  static load(files: TokenizerFiles): ModelTokenizer {
    return new ModelTokenizer(files);
  }

  /**
   * The one BOS rule of every sequence (text, completion, chat, the "Try it" prompt): `ids` (encoded
   * without special tokens) with exactly one BOS first when `add` (default: the tokenizer's own
   * rule, `addsBos`), and as they are otherwise. A chat template that writes `{{ bos_token }}`
   * (Llama 3, Gemma) already put it there, so it is not added again: the doubled BOS of
   * `tokenizer(apply_chat_template(tokenize=False))` never happens.
   */
  withBos(ids: number[], add = this.addsBos): number[] {
    if (!add || this.bosId === null || ids[0] === this.bosId) return ids;
    return [this.bosId, ...ids];
  }

  /** Ids of `text`, no special tokens added (transformers' add_special_tokens=False). */
  encode(text: string): number[] {
    return this.encodeChecked(text).ids;
  }

  /**
   * The one call of the library's encode (every record, preview and prompt passes here): an id past
   * vocab_size (an added token such as Gemma 3's <image_soft_token> in a text model) would index
   * past the embedding, so it is a RecordError naming the token, its id and entry.
   */
  private encodeChecked(text: string): { ids: number[]; tokens: string[] } {
    if (!text) return { ids: [], tokens: [] };
    const enc = this.tokenizer.encode(text, { add_special_tokens: false });
    if (this.vocabSize !== null) {
      for (const id of enc.ids) {
        if (id < this.vocabSize) continue;
        const past = this.beyondVocab.get(id);
        const what = past ? `${JSON.stringify(past.content)} is token ${id} (${this.file} ${past.entry})` : `token ${id} (${JSON.stringify(this.tokenString(id))}, ${this.file} model.vocab)`;
        throw new RecordError(`${what}, past the model's vocab_size ${this.vocabSize}: it is not a token of this model (remove it from the text)`);
      }
    }
    return enc;
  }

  decode(ids: ArrayLike<number>, skipSpecial = false): string {
    return this.tokenizer.decode(Array.from(ids), { skip_special_tokens: skipSpecial });
  }

  /** One token as readable text (its decoded string; partial UTF-8 shows as U+FFFD; special tokens verbatim). */
  tokenText(id: number): string {
    const a = this.added.get(id);
    if (a?.special) return a.content;
    return this.tokenizer.decode([id], { skip_special_tokens: false });
  }

  /** The raw vocabulary string of a token. */
  tokenString(id: number): string {
    return this.tokenizer.id_to_token(id) ?? '';
  }

  /**
   * Encodes `text` and recovers each token's char offsets by aligning the tokens' bytes with the
   * text's UTF-8 bytes. Null when they cannot be aligned (e.g. a normalizer changed the text).
   */
  encodeWithOffsets(text: string): OffsetEncoding | null {
    const enc = this.encodeChecked(text);
    const offs = this.alignBytes(text, enc.ids, enc.tokens);
    return offs ? { ids: enc.ids, ...offs } : null;
  }

  private readonly bytesCache = new Map<number, Uint8Array>();

  private tokenBytes(id: number, token: string): Uint8Array {
    let b = this.bytesCache.get(id);
    if (!b) {
      b = this.computeTokenBytes(id, token);
      if (this.bytesCache.size > 500_000) this.bytesCache.clear();
      this.bytesCache.set(id, b);
    }
    return b;
  }

  private computeTokenBytes(id: number, token: string): Uint8Array {
    const a = this.added.get(id);
    // A SentencePiece-style vocabulary lists some ordinary pieces as added tokens too (Gemma's
    // whitespace runs "▁▁", "\n\n"): the model emits them for the text they stand for.
    if (a && (a.special || this.byteMode !== 'metaspace')) return utf8.encode(a.content);
    if (this.byteMode === 'bytelevel') {
      const map = byteDecoder();
      const out = new Uint8Array(token.length);
      let n = 0;
      for (const ch of token) {
        const b = map.get(ch);
        if (b === undefined) return utf8.encode(token); // not a byte-level token
        out[n++] = b;
      }
      return out.subarray(0, n);
    }
    if (this.byteMode === 'metaspace') {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
      if (m) return Uint8Array.of(parseInt(m[1], 16));
      return utf8.encode(token.replace(/\u2581/g, ' '));
    }
    return utf8.encode(token.startsWith('##') ? token.slice(2) : token);
  }

  private alignBytes(text: string, ids: number[], tokens: string[]): { starts: Int32Array; ends: Int32Array } | null {
    const tb = utf8.encode(text);
    const n = ids.length;
    const bStarts = new Int32Array(n);
    const bEnds = new Int32Array(n);
    const isWs = (b: number) => b === 32 || b === 9 || b === 10 || b === 13;
    let pos = 0;
    for (let k = 0; k < n; k++) {
      const bytes = this.tokenBytes(ids[k], tokens[k] ?? '');
      let start = -1;
      for (let j = 0; j < bytes.length; j++) {
        const b = bytes[j];
        if (pos < tb.length && tb[pos] === b) {
          if (start < 0) start = pos;
          pos++;
          continue;
        }
        if (b === 32) continue; // a space the tokenizer inserted (SentencePiece prefix)
        // Whitespace the tokenizer absorbed (lstrip/rstrip special tokens) or dropped.
        let p = pos;
        while (p < tb.length && isWs(tb[p])) p++;
        if (p > pos && p < tb.length && tb[p] === b) {
          if (start < 0) start = pos;
          pos = p + 1;
          continue;
        }
        return null;
      }
      bStarts[k] = start < 0 ? -1 : start;
      bEnds[k] = start < 0 ? -1 : pos;
    }
    while (pos < tb.length && isWs(tb[pos])) pos++;
    if (pos !== tb.length) return null;
    // Bytes -> UTF-16 indices.
    const byteToChar = new Int32Array(tb.length + 1);
    let b = 0;
    for (let c = 0; c < text.length; c++) {
      const cp = text.codePointAt(c)!;
      const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      for (let j = 0; j < len; j++) byteToChar[b + j] = c;
      b += len;
      if (cp >= 0x10000) c++;
    }
    byteToChar[tb.length] = text.length;
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      if (bStarts[k] < 0) {
        starts[k] = -1;
        ends[k] = -1;
        continue;
      }
      starts[k] = byteToChar[bStarts[k]];
      // The char containing the token's last byte, plus one (partial chars count as covered).
      const last = byteToChar[bEnds[k] - 1];
      const cp = text.codePointAt(last)!;
      ends[k] = last + (cp >= 0x10000 ? 2 : 1);
    }
    return { starts, ends };
  }

  /**
   * Ids of `text` and a 0/1 mask of the tokens that overlap `spans`, as transformers computes
   * assistant_masks: from the token holding a span's first char to the token holding its last char.
   * Falls back to tokenizing the pieces between span boundaries when offsets cannot be recovered
   * (accepted only if the pieces re-assemble the same ids). Throws RecordError otherwise.
   */
  encodeWithSpanMask(text: string, spans: readonly CharSpan[]): { ids: number[]; mask: Uint8Array } {
    const enc = this.encodeWithOffsets(text);
    if (enc) {
      const n = enc.ids.length;
      const mask = new Uint8Array(n);
      for (const [cs, ce] of spans) {
        if (ce <= cs) continue;
        let first = -1;
        let last = -1;
        for (let k = 0; k < n; k++) {
          if (enc.starts[k] < 0) continue;
          if (first < 0 && enc.ends[k] > cs) first = k;
          if (enc.starts[k] <= ce - 1) last = k;
        }
        if (first < 0 || last < first) continue;
        mask.fill(1, first, last + 1);
      }
      return { ids: enc.ids, mask };
    }
    // Fallback: encode each piece between boundaries separately.
    const cuts = [...new Set(spans.flatMap(([a, b]) => [a, b]).concat([0, text.length]))]
      .filter((c) => c >= 0 && c <= text.length)
      .sort((a, b) => a - b);
    const ids: number[] = [];
    const mask: number[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [a, b] = [cuts[i], cuts[i + 1]];
      if (b <= a) continue;
      const inside = spans.some(([s, e]) => s <= a && b <= e);
      for (const id of this.encode(text.slice(a, b))) {
        ids.push(id);
        mask.push(inside ? 1 : 0);
      }
    }
    const whole = this.encode(text);
    if (whole.length !== ids.length || whole.some((v, i) => v !== ids[i])) {
      throw new RecordError(
        'cannot map the assistant turns to tokens with this tokenizer (token boundaries do not match the turn boundaries)',
      );
    }
    return { ids, mask: Uint8Array.from(mask) };
  }
}
