// Record formats: detection, an explicit column mapping, and validation into typed examples.
import { RecordError } from './errors';
import { hasOwn, jsonDepth, MAX_JSON_DEPTH } from '../io/untrusted/json';

export type DataFormat = 'text' | 'completion' | 'alpaca' | 'messages' | 'sharegpt';
export const DATA_FORMATS: readonly DataFormat[] = ['text', 'completion', 'alpaca', 'messages', 'sharegpt'];

const DATA_FORMAT_NAMES: Record<DataFormat, string> = {
  messages: 'chat messages',
  sharegpt: 'ShareGPT conversations',
  completion: 'prompt and completion',
  alpaca: 'Alpaca instructions',
  text: 'plain text',
};

/** A format's readable name, as the dataset panel and the model card show it (an unknown one as given). */
export function dataFormatName(format: string): string {
  return hasOwn(DATA_FORMAT_NAMES, format) ? DATA_FORMAT_NAMES[format as DataFormat] : format;
}

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

/** A validated example, before tokenization. */
export type Example =
  | { kind: 'text'; text: string }
  | { kind: 'completion'; prompt: string; completion: string }
  | { kind: 'chat'; messages: ChatMessage[] };

/**
 * Which column (JSON key, CSV header) holds each field. Unset fields use their default names:
 * text, prompt, completion, instruction, input, output, messages, conversations; inside a turn,
 * role/content (messages) or from/value (sharegpt).
 */
export interface ColumnMapping {
  text?: string;
  prompt?: string;
  completion?: string;
  instruction?: string;
  input?: string;
  output?: string;
  messages?: string;
  conversations?: string;
  /** Key of a turn's role (default 'role' for messages, 'from' for sharegpt). */
  role?: string;
  /** Key of a turn's text (default 'content' for messages, 'value' for sharegpt). */
  content?: string;
}

/** Parses `prompt=question,completion=answer` (the CLI's --map) into a ColumnMapping. */
export function parseColumnMapping(spec: string): ColumnMapping {
  const keys = new Set([
    'text',
    'prompt',
    'completion',
    'instruction',
    'input',
    'output',
    'messages',
    'conversations',
    'role',
    'content',
  ]);
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`column mapping '${part}': expected field=column`);
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!keys.has(k)) throw new Error(`column mapping: unknown field '${k}' (one of ${[...keys].join(', ')})`);
    if (!v) throw new Error(`column mapping: empty column name for '${k}'`);
    out[k] = v;
  }
  return out as ColumnMapping;
}

const col = (m: ColumnMapping, k: keyof ColumnMapping): string => m[k] ?? k;

/** The record fields a format reads (role/content are keys inside a turn, not columns). */
const FIELD_COLUMNS = ['text', 'prompt', 'completion', 'instruction', 'input', 'output', 'messages', 'conversations'] as const;

/**
 * The columns detection and validation can read under `mapping`: the only ones a columnar source
 * (Parquet) needs to decode. A Hub dataset often carries wide columns no format uses (ids, scores,
 * source documents), and decoding them costs most of the memory and time of a read.
 */
export function formatColumns(mapping: ColumnMapping = {}): string[] {
  return FIELD_COLUMNS.map((k) => col(mapping, k));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The format of one record from its keys, or null when none fits. Order: messages, conversations
 * (ShareGPT), instruction+output (Alpaca), prompt+completion, text. A `messages` list whose turns use
 * from/value is ShareGPT; a `conversations` list of role/content turns is messages.
 */
export function detectFormat(record: unknown, mapping: ColumnMapping = {}): DataFormat | null {
  if (!isObject(record)) return null;
  const has = (k: keyof ColumnMapping) => hasOwn(record, col(mapping, k));
  const turnStyle = (v: unknown): DataFormat | null => {
    const arr = typeof v === 'string' ? tryJson(v) : v;
    if (!Array.isArray(arr) || !arr.length || !isObject(arr[0])) return null;
    if ('from' in arr[0] || 'value' in arr[0]) return 'sharegpt';
    if ('role' in arr[0] || 'content' in arr[0]) return 'messages';
    return null;
  };
  if (has('messages')) return turnStyle(record[col(mapping, 'messages')]) ?? 'messages';
  if (has('conversations')) return turnStyle(record[col(mapping, 'conversations')]) === 'messages' ? 'messages' : 'sharegpt';
  if (has('instruction') && has('output')) return 'alpaca';
  if (has('prompt') && has('completion')) return 'completion';
  if (has('text')) return 'text';
  return null;
}

function tryJson(s: string): unknown {
  const t = s.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    return jsonDepth(t, MAX_JSON_DEPTH) > MAX_JSON_DEPTH ? undefined : JSON.parse(t);
  } catch {
    return undefined;
  }
}

export function describeFormats(): string {
  return (
    'text {"text"}, completion {"prompt","completion"}, alpaca {"instruction","input","output"}, ' +
    'messages {"messages":[{"role","content"}]}, sharegpt {"conversations":[{"from","value"}]}'
  );
}

function str(rec: Record<string, unknown>, key: string, opts: { optional?: boolean; allowEmpty?: boolean } = {}): string {
  if (!(key in rec) || rec[key] === undefined) {
    if (opts.optional) return '';
    throw new RecordError(`missing field '${key}'`);
  }
  const v = rec[key];
  if (v === null && opts.optional) return '';
  if (typeof v !== 'string') throw new RecordError(`field '${key}' must be a string, got ${typeName(v)}`);
  if (!opts.allowEmpty && !v.trim()) throw new RecordError(`field '${key}' is empty`);
  return v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

const SHAREGPT_ROLES: Record<string, Role> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  system: 'system',
};
const CHAT_ROLES: Record<string, Role> = { system: 'system', user: 'user', assistant: 'assistant' };

/** Validates one record as `format` and returns the example; throws RecordError with the reason. */
export function toExample(record: unknown, format: DataFormat, mapping: ColumnMapping = {}): Example {
  if (!isObject(record)) throw new RecordError(`expected a JSON object, got ${typeName(record)}`);
  switch (format) {
    case 'text':
      return { kind: 'text', text: str(record, col(mapping, 'text')) };
    case 'completion':
      return {
        kind: 'completion',
        prompt: str(record, col(mapping, 'prompt'), { allowEmpty: true }),
        completion: str(record, col(mapping, 'completion')),
      };
    case 'alpaca': {
      const instruction = str(record, col(mapping, 'instruction'));
      const input = str(record, col(mapping, 'input'), { optional: true, allowEmpty: true });
      const output = str(record, col(mapping, 'output'));
      return { kind: 'completion', prompt: alpacaPrompt(instruction, input), completion: output };
    }
    case 'messages':
    case 'sharegpt': {
      const sharegpt = format === 'sharegpt';
      const [own, other] = sharegpt ? (['conversations', 'messages'] as const) : (['messages', 'conversations'] as const);
      const listKey =
        mapping[own] ?? mapping[other] ?? (!hasOwn(record, own) && hasOwn(record, other) ? other : own);
      const messages = chatMessages(record, listKey, sharegpt, mapping);
      return { kind: 'chat', messages };
    }
  }
}

/**
 * Alpaca records become a prompt and a completion (loss on the completion only) with the Stanford
 * Alpaca section headers, without its preamble:
 *   "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"   (Input omitted when empty)
 */
export function alpacaPrompt(instruction: string, input: string): string {
  return input.trim()
    ? `### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`
    : `### Instruction:\n${instruction}\n\n### Response:\n`;
}

function chatMessages(
  record: Record<string, unknown>,
  listKey: string,
  sharegpt: boolean,
  mapping: ColumnMapping,
): ChatMessage[] {
  if (!hasOwn(record, listKey)) throw new RecordError(`missing field '${listKey}'`);
  let list = record[listKey];
  if (typeof list === 'string') {
    // CSV cells hold the conversation as JSON text.
    try {
      if (jsonDepth(list as string, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new Error('too deep');
      list = JSON.parse(list as string);
    } catch {
      throw new RecordError(`field '${listKey}' must be a list of turns (a CSV cell must hold it as JSON)`);
    }
  }
  if (!Array.isArray(list)) throw new RecordError(`field '${listKey}' must be a list of turns, got ${typeName(list)}`);
  if (!list.length) throw new RecordError(`empty conversation: '${listKey}' has no turns`);
  const roleKeys = mapping.role ? [mapping.role] : sharegpt ? ['from', 'role'] : ['role'];
  const contentKeys = mapping.content ? [mapping.content] : sharegpt ? ['value', 'content'] : ['content'];
  const roles = sharegpt ? SHAREGPT_ROLES : CHAT_ROLES;
  const out: ChatMessage[] = [];
  list.forEach((turn, i) => {
    const where = `turn ${i + 1}`;
    if (!isObject(turn)) throw new RecordError(`${where}: expected an object, got ${typeName(turn)}`);
    const rk = roleKeys.find((k) => k in turn);
    if (!rk) throw new RecordError(`${where}: missing field '${roleKeys[0]}'`);
    const rv = turn[rk];
    if (typeof rv !== 'string') throw new RecordError(`${where}: field '${rk}' must be a string, got ${typeName(rv)}`);
    const role = roles[rv];
    if (!role) {
      throw new RecordError(`${where}: unknown role '${rv}' (expected ${Object.keys(roles).join(', ')})`);
    }
    const ck = contentKeys.find((k) => k in turn);
    if (!ck) throw new RecordError(`${where}: missing field '${contentKeys[0]}'`);
    const cv = turn[ck];
    if (typeof cv !== 'string') {
      throw new RecordError(`${where} (${rv}): field '${ck}' must be a string, got ${typeName(cv)}`);
    }
    if (!cv.trim()) throw new RecordError(`${where} (${rv}): empty turn`);
    out.push({ role, content: cv });
  });
  validateStructure(out);
  return out;
}

/**
 * A conversation is: an optional system message first, then user and assistant turns alternating,
 * starting with user, with at least one assistant turn.
 */
export function validateStructure(messages: ChatMessage[]): void {
  let i = 0;
  if (messages[0]?.role === 'system') i = 1;
  let expected: Role = 'user';
  let assistants = 0;
  for (let k = i; k < messages.length; k++) {
    const r = messages[k].role;
    if (r === 'system') throw new RecordError(`turn ${k + 1}: a system message may only be the first turn`);
    if (r !== expected) {
      throw new RecordError(
        k === i
          ? `non-alternating conversation: turn ${k + 1} is '${r}', the first turn after the system message must be 'user'`
          : `non-alternating conversation: turn ${k + 1} is '${r}' after '${messages[k - 1].role}'`,
      );
    }
    if (r === 'assistant') assistants++;
    expected = r === 'user' ? 'assistant' : 'user';
  }
  if (!assistants) throw new RecordError('conversation has no assistant turn (nothing to train on)');
}
