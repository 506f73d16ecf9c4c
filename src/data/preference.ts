// Preference data (DPO, IPO, ORPO): records of a prompt with a chosen and a rejected completion, in
// TRL's shapes, tokenized as TRL's DPOTrainer does (the prompt and each completion tokenized on
// their own; the prompt never trained, each completion and its end of turn trained):
//   standard        {"prompt": str, "chosen": str, "rejected": str}: completion + EOS;
//   conversational  {"prompt": [messages], "chosen": [assistant turn(s)], "rejected": [...]}: the
//                   prompt rendered by the chat template with the generation prompt, each completion
//                   the rest of prompt + completion rendered (its end-of-turn token included);
//   implicit        {"chosen": [full conversation], "rejected": [...]} (Anthropic HH as message
//                   lists, UltraFeedback): the prompt is the turns both share; or both strings
//                   (HH as text): the prompt is their common prefix, as TRL's extract_prompt.
// Lengths as TRL: the prompt cut from its start to maxPromptLength, then each completion cut so
// that prompt + completion fit maxLength.
import { RecordError, DatasetError, issuePlace, type DataIssue } from './errors';
import { toExample, type ChatMessage } from './formats';
import type { FileType } from './parse';
import { toRecordSource, type DatasetInput } from './records/record-source';
import type { ModelTokenizer } from './tokenizer';
import { hasOwn } from '../io/untrusted/json';

export type PreferenceShape = 'standard' | 'conversational' | 'implicit';

/** One side of a pair: prompt + completion, the completion's tokens trained. */
export interface PairSide {
  inputIds: Int32Array;
  trainMask: Uint8Array;
}

export interface PreferencePair {
  /** 1-based line of the record in the file. */
  line: number;
  chosen: PairSide;
  rejected: PairSide;
  promptTokens: number;
  truncated: boolean;
}

export interface PreferenceOptions {
  fileName?: string;
  fileType?: FileType;
  /** prompt + completion at most this many tokens (TRL's max_length). */
  maxLength?: number;
  /** The prompt's last this many tokens are kept (TRL's max_prompt_length); default maxLength / 2. */
  maxPromptLength?: number;
  skipInvalid?: boolean;
  /** Prepend BOS to a standard (string) prompt. Default false. */
  addBos?: boolean;
  limit?: number;
  /** Read at most this many records (rows). */
  maxRecords?: number;
}

export interface PreferenceStats {
  fileType: FileType;
  format: 'preference';
  shape: PreferenceShape;
  pairs: number;
  skipped: number;
  truncated: number;
  /** Sequences (two per pair) and their tokens. */
  sequences: number;
  tokens: number;
  maxTokens: number;
  meanTokens: number;
}

export interface PreparedPreference {
  pairs: PreferencePair[];
  stats: PreferenceStats;
  warnings: string[];
  skipped: DataIssue[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a record is preference data: it has `chosen` and `rejected`. */
/** The two fields that make a record a preference pair. */
export const PAIR_FIELDS = ['chosen', 'rejected'] as const;

export function isPreferenceRecord(record: unknown): boolean {
  return isObject(record) && PAIR_FIELDS.every((f) => hasOwn(record, f));
}

/** A field as a list of turns: an array, or a CSV cell holding one as JSON. */
function turnsOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && v.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(v);
      return Array.isArray(parsed) && parsed.every(isObject) ? parsed : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Validated turns: the record's conversation checked as the messages format checks it (roles, order). */
function conversation(turns: unknown[], field: string): ChatMessage[] {
  try {
    const ex = toExample({ messages: turns }, 'messages');
    if (ex.kind !== 'chat') throw new RecordError('not a conversation');
    return ex.messages;
  } catch (e) {
    if (e instanceof RecordError) throw new RecordError(`field '${field}': ${e.message}`);
    throw e;
  }
}

function text(record: Record<string, unknown>, field: string, allowEmpty = false): string {
  if (!hasOwn(record, field) || record[field] === undefined || record[field] === null) throw new RecordError(`missing field '${field}'`);
  const v = record[field];
  if (typeof v !== 'string') throw new RecordError(`field '${field}' must be a string or a list of turns`);
  if (!allowEmpty && !v.trim()) throw new RecordError(`field '${field}' is empty`);
  return v;
}

const sameTurn = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

/** The pair as text: the prompt and the two completions (strings), or the prompt turns and completion turns. */
type PairText =
  | { shape: 'standard' | 'implicit'; chat: false; prompt: string; chosen: string; rejected: string }
  | { shape: 'conversational' | 'implicit'; chat: true; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[] };

/** TRL's extract_prompt for two strings: their common prefix, a space before the split left to the completions. */
function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i > 0 && a[i - 1] === ' ') i--;
  return i;
}

/** A record as a pair's text; RecordError names the field. */
export function pairText(record: unknown): PairText {
  if (!isObject(record)) throw new RecordError('expected a JSON object');
  for (const f of ['chosen', 'rejected']) {
    if (!hasOwn(record, f) || record[f] === null || record[f] === undefined) throw new RecordError(`missing field '${f}'`);
  }
  const cTurns = turnsOf(record['chosen']);
  const rTurns = turnsOf(record['rejected']);
  if ((cTurns === null) !== (rTurns === null)) throw new RecordError(`fields 'chosen' and 'rejected' must both be strings or both lists of turns`);
  let out: PairText;
  if (cTurns && rTurns) {
    if (!cTurns.length) throw new RecordError(`field 'chosen' is empty`);
    if (!rTurns.length) throw new RecordError(`field 'rejected' is empty`);
    const promptTurns = hasOwn(record, 'prompt') ? turnsOf(record['prompt']) : null;
    const fullConversations = cTurns.some((t) => isObject(t) && t['role'] === 'user');
    if (promptTurns && !fullConversations) {
      const prompt = promptTurns.length ? conversation([...promptTurns, { role: 'assistant', content: '-' }], 'prompt').slice(0, -1) : [];
      const chosen = conversation([...promptTurns, ...cTurns], 'chosen').slice(prompt.length);
      const rejected = conversation([...promptTurns, ...rTurns], 'rejected').slice(prompt.length);
      out = { shape: 'conversational', chat: true, prompt, chosen, rejected };
    } else {
      // Full conversations (HH as turns, UltraFeedback): the prompt is the turns both share.
      const c = conversation(cTurns, 'chosen');
      const r = conversation(rTurns, 'rejected');
      let k = 0;
      while (k < c.length && k < r.length && sameTurn(c[k], r[k])) k++;
      while (k > 0 && c[k - 1].role === 'assistant' && (k === c.length || c[k].role !== 'assistant')) k--;
      if (k === c.length || k === r.length) throw new RecordError(`fields 'chosen' and 'rejected' are identical (no completion differs)`);
      if (c[k].role !== 'assistant') throw new RecordError(`field 'chosen': turn ${k + 1} after the shared prompt must be the assistant's`);
      if (r[k].role !== 'assistant') throw new RecordError(`field 'rejected': turn ${k + 1} after the shared prompt must be the assistant's`);
      out = { shape: 'implicit', chat: true, prompt: c.slice(0, k), chosen: c.slice(k), rejected: r.slice(k) };
    }
    const same = out.chosen.length === out.rejected.length && out.chosen.every((t, i) => sameTurn(t, out.rejected[i] as ChatMessage));
    if (same) throw new RecordError(`fields 'chosen' and 'rejected' are identical`);
    return out;
  }
  const chosen = text(record, 'chosen');
  const rejected = text(record, 'rejected');
  if (chosen === rejected) throw new RecordError(`fields 'chosen' and 'rejected' are identical`);
  if (hasOwn(record, 'prompt')) return { shape: 'standard', chat: false, prompt: text(record, 'prompt', true), chosen, rejected };
  const k = sharedPrefix(chosen, rejected);
  if (!chosen.slice(k).trim()) throw new RecordError(`field 'chosen' has nothing after the prompt it shares with 'rejected'`);
  if (!rejected.slice(k).trim()) throw new RecordError(`field 'rejected' has nothing after the prompt it shares with 'chosen'`);
  return { shape: 'implicit', chat: false, prompt: chosen.slice(0, k), chosen: chosen.slice(k), rejected: rejected.slice(k) };
}

/** Token ids of the prompt and the two completions (before the length rules). */
export function pairTokens(p: PairText, tok: ModelTokenizer, addBos = false): { prompt: number[]; chosen: number[]; rejected: number[] } {
  if (!p.chat) {
    const bos = addBos && tok.bosId !== null ? [tok.bosId] : [];
    const eos = tok.eosId !== null ? [tok.eosId] : [];
    return { prompt: [...bos, ...tok.encode(p.prompt)], chosen: [...tok.encode(p.chosen), ...eos], rejected: [...tok.encode(p.rejected), ...eos] };
  }
  const t = tok.template;
  const promptText = t.render(p.prompt, true);
  const completion = (turns: ChatMessage[], field: string): number[] => {
    const full = t.render([...p.prompt, ...turns]);
    if (!full.startsWith(promptText)) throw new RecordError(`field '${field}': the chat template does not render the prompt as the start of the conversation`);
    const ids = tok.encode(full.slice(promptText.length));
    if (!ids.length) throw new RecordError(`field '${field}': the completion renders to no tokens`);
    return ids;
  };
  return { prompt: tok.encode(promptText), chosen: completion(p.chosen, 'chosen'), rejected: completion(p.rejected, 'rejected') };
}

/** TRL's length rules: the prompt's last maxPromptLength tokens, each completion cut to fit maxLength. */
export function pairSides(
  ids: { prompt: number[]; chosen: number[]; rejected: number[] },
  maxLength = Number.POSITIVE_INFINITY,
  maxPromptLength = Math.floor(maxLength / 2),
): { chosen: PairSide; rejected: PairSide; promptTokens: number; truncated: boolean } {
  const prompt = ids.prompt.length > maxPromptLength ? ids.prompt.slice(ids.prompt.length - maxPromptLength) : ids.prompt;
  let truncated = prompt.length < ids.prompt.length;
  const side = (c: number[]): PairSide => {
    const room = Math.max(0, maxLength - prompt.length);
    if (c.length > room) truncated = true;
    const kept = c.slice(0, room);
    const mask = new Uint8Array(prompt.length + kept.length);
    mask.fill(1, prompt.length);
    return { inputIds: Int32Array.from([...prompt, ...kept]), trainMask: mask };
  };
  return { chosen: side(ids.chosen), rejected: side(ids.rejected), promptTokens: prompt.length, truncated };
}

/** Reads, validates and tokenizes a preference file; refuses it (DatasetError naming every bad line) unless skipInvalid. */
export async function preparePreferenceDataset(input: DatasetInput, tok: ModelTokenizer, opts: PreferenceOptions = {}): Promise<PreparedPreference> {
  const source = toRecordSource(input, opts);
  const name = source.files.join(', ');
  const fileType: FileType = source.fileType;
  const maxLength = opts.maxLength ?? Number.POSITIVE_INFINITY;
  const maxPromptLength = opts.maxPromptLength ?? (Number.isFinite(maxLength) ? Math.floor(maxLength / 2) : Number.POSITIVE_INFINITY);
  if (Number.isFinite(maxLength) && !(maxPromptLength < maxLength)) throw new Error(`maxPromptLength (${maxPromptLength}) must be below maxLength (${maxLength})`);
  const issues: DataIssue[] = [];
  const pairs: PreferencePair[] = [];
  let shape: PreferenceShape | null = null;
  let records = 0;
  let truncated = 0;
  for await (const rec of source.records({ maxRecords: opts.maxRecords })) {
    records++;
    if ('error' in rec) {
      issues.push({ ...issuePlace(rec), reason: rec.error });
      continue;
    }
    try {
      const p = pairText(rec.value);
      shape ??= p.shape;
      const sides = pairSides(pairTokens(p, tok, opts.addBos), maxLength, maxPromptLength);
      for (const f of ['chosen', 'rejected'] as const) {
        if (!sides[f].trainMask.some((m) => m === 1)) throw new RecordError(`field '${f}': no completion token is left within ${maxLength} tokens (the prompt takes ${sides.promptTokens})`);
      }
      if (sides.truncated) truncated++;
      pairs.push({ line: rec.line, ...sides });
      if (opts.limit !== undefined && pairs.length >= opts.limit) break;
    } catch (e) {
      if (e instanceof RecordError) issues.push({ ...issuePlace(rec), reason: e.message });
      else throw e;
    }
  }
  if (issues.length && !opts.skipInvalid) {
    const n = issues.length;
    throw new DatasetError(`the preference data was refused: ${n} invalid pair${n === 1 ? '' : 's'} (fix ${n === 1 ? 'it' : 'them'}, or skip invalid lines)`, issues);
  }
  if (records === 0) throw new DatasetError(`the dataset is empty: no records found${name ? ` in ${name}` : ''}`);
  if (pairs.length === 0) throw new DatasetError(`no valid pairs: all ${issues.length} records were invalid`, issues);
  const warnings: string[] = [];
  if (truncated) warnings.push(`${truncated} pair${truncated === 1 ? ' was' : 's were'} cut to fit ${maxLength} tokens (prompt at most ${maxPromptLength})`);
  if (issues.length) warnings.push(`${issues.length} invalid pair${issues.length === 1 ? ' was' : 's were'} skipped`);
  let tokens = 0;
  let maxTokens = 0;
  for (const p of pairs) {
    for (const s of [p.chosen, p.rejected]) {
      tokens += s.inputIds.length;
      maxTokens = Math.max(maxTokens, s.inputIds.length);
    }
  }
  return {
    pairs,
    stats: { fileType, format: 'preference', shape: shape!, pairs: pairs.length, skipped: issues.length, truncated, sequences: 2 * pairs.length, tokens, maxTokens, meanTokens: tokens / (2 * pairs.length) },
    warnings,
    skipped: issues,
  };
}

/** A file's first record is preference data (chosen and rejected): how prepare and train tell them apart. */
export async function isPreferenceFile(input: DatasetInput, fileType?: FileType): Promise<boolean> {
  for await (const rec of toRecordSource(input, { fileType }).records()) {
    if ('error' in rec) continue;
    return isPreferenceRecord(rec.value);
  }
  return false;
}

/**
 * A pair prepared without a length limit, cut by TRL's length rules (pairSides) for a run's
 * maxLength / maxPromptLength: the same pair preparePreferenceDataset gives with those lengths (the
 * prompt and completions are tokenized on their own, so cutting afterwards changes nothing). The
 * studio prepares a file once when it is loaded and cuts it for each run's settings.
 */
export function cutPair(pair: PreferencePair, maxLength: number, maxPromptLength = Math.floor(maxLength / 2)): PreferencePair {
  if (!(maxPromptLength < maxLength)) throw new RangeError(`maxPromptLength (${maxPromptLength}) must be below maxLength (${maxLength})`);
  const n = pair.promptTokens;
  const ids = {
    prompt: Array.from(pair.chosen.inputIds.subarray(0, n)),
    chosen: Array.from(pair.chosen.inputIds.subarray(n)),
    rejected: Array.from(pair.rejected.inputIds.subarray(n)),
  };
  const sides = pairSides(ids, maxLength, maxPromptLength);
  return { line: pair.line, ...sides, truncated: pair.truncated || sides.truncated };
}
