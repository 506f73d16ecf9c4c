// A column mapping proposed for a record whose columns name no known format (detectFormat is null):
// the user confirms or changes it in the dataset panel. Pure: the page shows it, the pipeline reads
// the mapping the user kept (parseColumnMapping).
import { detectFormat, type ColumnMapping, type DataFormat } from './formats';

/** Column names read as a prompt, or as its answer, in the order tried. */
const PROMPT_NAMES = ['question', 'query', 'instruction', 'input', 'problem', 'prompt', 'context'];
const ANSWER_NAMES = ['answer', 'response', 'output', 'solution', 'completion', 'target', 'chosen_response'];

export interface ProposedMapping {
  format: DataFormat;
  mapping: ColumnMapping;
  /** As the panel's mapping field writes it: `prompt=question,completion=answer`. */
  text: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function turnKind(v: unknown): 'sharegpt' | 'messages' | null {
  if (!Array.isArray(v) || !v.length || !isObj(v[0])) return null;
  if ('from' in v[0] && 'value' in v[0]) return 'sharegpt';
  if ('role' in v[0] && 'content' in v[0]) return 'messages';
  return null;
}

/** The mapping to propose for `record` (its first record), or null when it names a format already or nothing fits. */
export function proposeMapping(record: unknown): ProposedMapping | null {
  if (!isObj(record) || detectFormat(record) !== null) return null;
  const keys = Object.keys(record);
  const out = (format: DataFormat, mapping: ColumnMapping): ProposedMapping => ({
    format,
    mapping,
    text: Object.entries(mapping).map(([k, v]) => `${k}=${v}`).join(','),
  });
  for (const k of keys) {
    const kind = turnKind(record[k]);
    if (kind === 'sharegpt') return out('sharegpt', { conversations: k });
    if (kind === 'messages') return out('messages', { messages: k });
  }
  const lower = new Map(keys.map((k) => [k.toLowerCase(), k]));
  const strings = (names: string[]) => names.map((n) => lower.get(n)).filter((k): k is string => k !== undefined && typeof record[k] === 'string');
  const prompt = strings(PROMPT_NAMES)[0];
  const answer = strings(ANSWER_NAMES).find((k) => k !== prompt);
  if (prompt && answer) return out('completion', { prompt, completion: answer });
  const texts = keys.filter((k) => typeof record[k] === 'string');
  if (texts.length === 1) return out('text', { text: texts[0] });
  return null;
}
