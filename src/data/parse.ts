// Streaming record parsers: .jsonl, .json (one array), .csv / .tsv (RFC 4180, header row), .txt.
// Each yields records with the 1-based line number where the record starts, or a per-line problem.
import { DatasetError } from './errors';
import { MAX_RECORD_CHARS, readLines, TOO_LONG, type ByteSource, type ReadProgress, type TextLine } from './source';
import { jsonDepth, MAX_JSON_DEPTH } from '../io/untrusted/json';

/** The text file types (parseRecords); FileType adds Parquet (records/parquet.ts). */
export type TextFileType = 'jsonl' | 'json' | 'csv' | 'tsv' | 'txt';
export type FileType = TextFileType | 'parquet';

/**
 * How a .txt file is split into examples:
 * - 'line' (default): every non-blank line is one example;
 * - 'paragraph': blocks separated by blank lines are examples (lines of a block joined by '\n').
 */
export type TxtMode = 'line' | 'paragraph';

/**
 * Where a record is: the 1-based line where it starts; a JSON array's also its 0-based index; a
 * Parquet row its 0-based row and row group (`line` is then row + 1); `file` when a source has a name for it.
 */
export interface RecordPlace {
  line: number;
  index?: number;
  row?: number;
  rowGroup?: number;
  file?: string;
}

/** A record (or its problem) with its place. */
export type RawRecord = (RecordPlace & { value: unknown }) | (RecordPlace & { error: string });

const EXTENSIONS: Record<string, FileType> = {
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  txt: 'txt',
  text: 'txt',
  md: 'txt',
  parquet: 'parquet',
};

/** The file type from a file name's extension. Throws DatasetError for unsupported types. */
export function fileTypeFromName(name: string): FileType {
  const m = /\.([A-Za-z0-9]+)$/.exec(name.trim());
  const ext = m ? m[1].toLowerCase() : '';
  const t = EXTENSIONS[ext];
  if (!t) {
    const hint = ext === 'arrow' ? ' (export it to Parquet or JSONL first, e.g. `datasets.load_dataset(...).to_parquet("data.parquet")`)' : '';
    throw new DatasetError(`unsupported file type '${ext ? '.' + ext : name}'${hint}: use .jsonl, .json, .csv, .tsv, .txt or .parquet`);
  }
  return t;
}

export interface ParseOptions {
  txtMode?: TxtMode;
  onProgress?: (p: ReadProgress) => void;
}

/** Parses a source of the given type into records, streaming. */
export function parseRecords(source: ByteSource, type: TextFileType, opts: ParseOptions = {}): AsyncGenerator<RawRecord> {
  const lines = readLines(source, opts.onProgress);
  switch (type) {
    case 'jsonl':
      return parseJsonLines(lines);
    case 'json':
      return parseJsonArray(lines);
    case 'csv':
      return parseDelimited(lines, ',');
    case 'tsv':
      return parseDelimited(lines, '\t');
    case 'txt':
      return parseTxt(lines, opts.txtMode ?? 'line');
  }
}

/**
 * JSON.parse of one record with its nesting checked first (untrusted text: a value nested 10^5
 * deep would overflow the stack of whatever walks it later).
 */
function parseRecordJson(text: string): unknown {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new Error(`values nested more than ${MAX_JSON_DEPTH} deep`);
  return JSON.parse(text);
}

function jsonError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `invalid JSON (${msg.replace(/\s+/g, ' ').slice(0, 160)})`;
}

export async function* parseJsonLines(lines: AsyncIterable<TextLine>): AsyncGenerator<RawRecord> {
  for await (const { line, text, tooLong } of lines) {
    if (tooLong) {
      yield { line, error: TOO_LONG };
      continue;
    }
    if (!text.trim()) continue;
    try {
      yield { line, value: parseRecordJson(text) };
    } catch (e) {
      yield { line, error: jsonError(e) };
    }
  }
}

/**
 * A streaming splitter for a top-level JSON array: each element's text is cut out by tracking
 * brackets and strings, then parsed on its own; only one element is held at a time. A file whose
 * first character is not '[' is read as JSON Lines (a common mislabel).
 */
export async function* parseJsonArray(lines: AsyncIterable<TextLine>): AsyncGenerator<RawRecord> {
  const it = lines[Symbol.asyncIterator]();
  // Find the first non-blank character.
  let first: TextLine | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    if (r.value.text.trim()) {
      first = r.value;
      break;
    }
  }
  if (first.text.trimStart()[0] !== '[') {
    async function* rest(): AsyncGenerator<TextLine> {
      yield first!;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    yield* parseJsonLines(rest());
    return;
  }

  // State of the scanner.
  type Phase = 'open' | 'value' | 'after';
  let phase: Phase = 'open';
  let parts: string[] = []; // pieces of the current element
  let elemLine = 0;
  let depth = 0; // bracket depth inside the current element
  let inString = false;
  let escape = false;
  let scalar = false; // current element is a bare scalar (number, true, false, null)
  let closed = false;
  let expectValue = false; // after a comma
  let index = 0; // of the next element
  let partsChars = 0;

  /** The current element ends (its last piece of text, if any, given): parse it; the scanner then expects ',' or ']'. */
  const finish = (lastPiece?: string): RawRecord => {
    if (lastPiece !== undefined) parts.push(lastPiece);
    phase = 'after';
    const text = parts.join('');
    parts = [];
    partsChars = 0;
    const at = { line: elemLine, index: index++ };
    try {
      return { ...at, value: parseRecordJson(text) };
    } catch (e) {
      return { ...at, error: jsonError(e) };
    }
  };

  let cur: TextLine | undefined = first;
  while (cur) {
    const { line, text } = cur;
    // A line over the cap cannot be followed through the array's brackets: the file is refused.
    if (cur.tooLong) throw new DatasetError(`line ${line}${phase === 'value' || expectValue ? `, index ${index}` : ''}: ${TOO_LONG}`);
    let i = 0;
    let segStart = phase === 'value' ? 0 : -1; // start of the current element inside this line
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (phase === 'value') {
        if (inString) {
          if (escape) escape = false;
          else if (c === 92 /* \ */) escape = true;
          else if (c === 34 /* " */) {
            inString = false;
            if (depth === 0) {
              // A bare string element ends here.
              yield finish(text.slice(segStart, i + 1));
            }
          }
          i++;
          continue;
        }
        if (scalar) {
          if (c === 44 /* , */ || c === 93 /* ] */ || c === 32 || c === 9) {
            scalar = false;
            yield finish(text.slice(segStart, i));
            continue; // reprocess this char in 'after'
          }
          i++;
          continue;
        }
        if (c === 34) inString = true;
        else if (c === 123 /* { */ || c === 91 /* [ */) depth++;
        else if (c === 125 /* } */ || c === 93 /* ] */) {
          depth--;
          if (depth === 0) yield finish(text.slice(segStart, i + 1));
        }
        i++;
        continue;
      }
      // Whitespace between tokens.
      if (c === 32 || c === 9 || c === 13) {
        i++;
        continue;
      }
      if (closed) {
        yield { line, index, error: 'unexpected content after the closing ] of the JSON array' };
        return;
      }
      if (phase === 'open') {
        if (c !== 91) {
          yield { line, error: 'a .json dataset must be one array of records: [ {...}, {...} ]' };
          return;
        }
        phase = 'after';
        expectValue = true;
        i++;
        continue;
      }
      // phase 'after': expecting a value, ',' or ']'
      if (c === 44) {
        if (expectValue) {
          yield { line, index, error: 'invalid JSON (unexpected "," in the array)' };
          return;
        }
        expectValue = true;
        i++;
        continue;
      }
      if (c === 93) {
        closed = true;
        i++;
        continue;
      }
      if (!expectValue) {
        yield { line, index, error: 'invalid JSON (missing "," between array elements)' };
        return;
      }
      // Start of an element.
      expectValue = false;
      phase = 'value';
      elemLine = line;
      segStart = i;
      depth = 0;
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth = 1;
      else scalar = true;
      i++;
    }
    if (phase === 'value') {
      parts.push(text.slice(segStart), '\n');
      partsChars += text.length - segStart + 1;
      if (partsChars > MAX_RECORD_CHARS) throw new DatasetError(`line ${elemLine}, index ${index}: ${TOO_LONG}`);
    }
    if (scalar && phase === 'value') {
      // A bare scalar ends at the end of its line.
      parts.pop();
      scalar = false;
      yield finish();
    }
    const r = await it.next();
    cur = r.done ? undefined : r.value;
  }
  if (phase === 'value') {
    yield { line: elemLine, index, error: 'invalid JSON (unterminated array element: a bracket or quote is not closed)' };
  } else if (!closed) {
    throw new DatasetError('invalid JSON: the array is not closed with ]');
  }
}

/**
 * RFC 4180 CSV (or TSV with a tab delimiter): a header row names the columns; fields may be quoted
 * with "..." ("" is a literal quote) and quoted fields may span lines (joined with '\n').
 * Blank lines are skipped.
 */
export async function* parseDelimited(lines: AsyncIterable<TextLine>, delim: ',' | '\t'): AsyncGenerator<RawRecord> {
  let header: string[] | null = null;
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let quotedField = false;
  let rowLine = 0;
  let rowError: string | null = null;
  const d = delim.charCodeAt(0);

  let rowChars = 0;
  for await (const { line, text, tooLong } of lines) {
    // A line over the cap cannot be followed through its quotes: the file is refused.
    if (tooLong) throw new DatasetError(`line ${line}: ${TOO_LONG}`);
    rowChars = inQuotes ? rowChars + text.length : text.length;
    if (rowChars > MAX_RECORD_CHARS) throw new DatasetError(`line ${rowLine}: ${TOO_LONG}`);
    if (!inQuotes) {
      if (!text.trim() && !(delim === '\t' && text.length)) continue;
      rowLine = line;
      fields = [];
      field = '';
      quotedField = false;
      rowError = null;
    } else {
      field += '\n';
    }
    let i = 0;
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (inQuotes) {
        if (c === 34) {
          if (text.charCodeAt(i + 1) === 34) {
            field += '"';
            i += 2;
            continue;
          }
          inQuotes = false;
          i++;
          continue;
        }
        // Copy a run of ordinary characters at once.
        let j = text.indexOf('"', i);
        if (j < 0) j = n;
        field += text.slice(i, j);
        i = j;
        continue;
      }
      if (c === d) {
        fields.push(field);
        field = '';
        quotedField = false;
        i++;
        continue;
      }
      if (c === 34) {
        if (field.length === 0 && !quotedField) {
          inQuotes = true;
          quotedField = true;
          i++;
          continue;
        }
        rowError ??= `malformed ${delim === ',' ? 'CSV' : 'TSV'}: a quote (") inside an unquoted field (quote the field and double the inner quotes)`;
        field += '"';
        i++;
        continue;
      }
      if (quotedField && !inQuotes) {
        rowError ??= `malformed ${delim === ',' ? 'CSV' : 'TSV'}: text after a closing quote`;
      }
      let j = i + 1;
      while (j < n) {
        const cj = text.charCodeAt(j);
        if (cj === d || cj === 34) break;
        j++;
      }
      field += text.slice(i, j);
      i = j;
    }
    if (inQuotes) continue; // the quoted field goes on on the next line
    fields.push(field);
    if (!header) {
      header = fields.map((h) => h.trim());
      if (rowError) {
        throw new DatasetError(`line ${rowLine}: ${rowError} (in the header row)`);
      }
      const seen = new Set<string>();
      for (const h of header) {
        if (!h) throw new DatasetError(`line ${rowLine}: the header row has an empty column name`);
        if (seen.has(h)) throw new DatasetError(`line ${rowLine}: the header row repeats the column '${h}'`);
        seen.add(h);
      }
      continue;
    }
    if (rowError) {
      yield { line: rowLine, error: rowError };
      continue;
    }
    if (fields.length !== header.length) {
      yield { line: rowLine, error: `expected ${header.length} fields (as in the header), found ${fields.length}` };
      continue;
    }
    const obj: Record<string, string> = {};
    for (let k = 0; k < header.length; k++) obj[header[k]] = fields[k];
    yield { line: rowLine, value: obj };
  }
  if (inQuotes) {
    yield { line: rowLine, error: 'unterminated quoted field (a " is never closed)' };
  }
}

export async function* parseTxt(lines: AsyncIterable<TextLine>, mode: TxtMode): AsyncGenerator<RawRecord> {
  if (mode === 'line') {
    for await (const { line, text, tooLong } of lines) {
      if (tooLong) yield { line, error: TOO_LONG };
      else if (text.trim()) yield { line, value: { text } };
    }
    return;
  }
  let block: string[] = [];
  let chars = 0;
  let start = 0;
  let over = false;
  const paragraph = (): RawRecord => (over ? { line: start, error: TOO_LONG } : { line: start, value: { text: block.join('\n') } });
  for await (const { line, text, tooLong } of lines) {
    if (!tooLong && !text.trim()) {
      if (block.length || over) yield paragraph();
      block = [];
      chars = 0;
      over = false;
      continue;
    }
    if (!block.length && !over) start = line;
    chars += text.length + 1;
    // A paragraph over the cap keeps nothing: its lines stream by until the blank line.
    if (tooLong || chars > MAX_RECORD_CHARS) {
      over = true;
      block = [];
    } else if (!over) block.push(text);
  }
  if (block.length || over) yield paragraph();
}
