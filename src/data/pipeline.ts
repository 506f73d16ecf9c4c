// The whole dataset pipeline: bytes -> records -> examples -> token ids + loss masks, with stats.
import { DatasetError, issuePlace, MAX_LISTED_ISSUES, RecordError, recordPlace, type DataIssue, type IssuePlace } from './errors';
import { countTrained, encodeExample, truncateExample, type EncodedExample, type TrainOn } from './encode';
import { describeFormats, detectFormat, formatColumns, toExample, type ColumnMapping, type DataFormat } from './formats';
import type { FileType, TxtMode } from './parse';
import { isPreferenceRecord, PAIR_FIELDS } from './preference';
import { toRecordSource, type DatasetInput } from './records/record-source';
import { lengthHistogram, type Histogram } from './stats';
import { ExampleTable, type PreparedExample } from './example-table';
import type { ModelTokenizer } from './tokenizer';

export interface PrepareOptions {
  /** Used for the file type (by extension) when `fileType` is not given. A File source's name is used too. */
  fileName?: string;
  fileType?: FileType;
  /** 'auto' (default) detects the format from the first record with known fields. */
  format?: DataFormat | 'auto';
  /** Column names for the format's fields (see ColumnMapping). */
  mapping?: ColumnMapping;
  /** .txt files: one example per line (default) or per blank-line-separated paragraph. */
  txtMode?: TxtMode;
  /** Cut examples to this many tokens (see truncateExample). Default: no limit. */
  maxLength?: number;
  /** 'assistant' (default): assistant turns / completions only; 'all': every token. */
  trainOn?: TrainOn;
  /** Skip and count bad records instead of refusing the dataset. */
  skipInvalid?: boolean;
  /** Whether sequences start with BOS (EncodeOptions.addBos); default: the tokenizer's own rule. */
  addBos?: boolean;
  /** Stop after this many valid examples (a quick preview). */
  limit?: number;
  /** Read at most this many records (rows), valid or not: a row limit on a large dataset. */
  maxRecords?: number;
  onProgress?: (p: PrepareProgress) => void;
  /** Cancels between records (the pipeline yields to the event loop now and then when given). */
  signal?: AbortSignal;
  /**
   * With maxLength, cut each text longer than maxLength tokens could span before tokenizing it
   * (encode.ts, cutForTokens). Default true; false tokenizes whole texts (the tests' oracle).
   */
  cutBeforeTokenizing?: boolean;
}

export interface PrepareProgress {
  /** Text files: bytes and lines read. */
  bytes: number;
  lines: number;
  /** Records read (Parquet rows). */
  rows: number;
  /** Parquet: all rows to read (the files' metadata, capped by maxRecords); undefined for text. */
  totalRows?: number;
  examples: number;
  invalid: number;
}

export interface DatasetStats {
  fileType: FileType;
  format: DataFormat;
  /** Chat data formatted with the default ChatML because the model has no template. */
  defaultChatTemplate: boolean;
  trainOn: TrainOn;
  /** Examples kept. */
  examples: number;
  /** Bad records skipped (skipInvalid). */
  skipped: number;
  /** Tokens of the kept examples (after truncation). */
  tokens: number;
  /** Tokens with a label (trained). */
  trainedTokens: number;
  /** Examples cut to maxLength. */
  truncated: number;
  /** Truncated examples whose last, partially kept assistant turn / completion was masked. */
  maskedPartialTurns: number;
  /** Examples dropped because truncation left no trained token. */
  droppedAfterTruncation: number;
  maxLength: number | null;
  minTokens: number;
  maxTokens: number;
  meanTokens: number;
  histogram: Histogram;
}

export interface PreparedDataset {
  /** In file order, as columns (example-table.ts): `examples.example(i)` is one as an object. */
  examples: ExampleTable;
  stats: DatasetStats;
  /** Things the user should be told (default chat template, dropped examples...). */
  warnings: string[];
  /** The first MAX_LISTED_ISSUES bad records skipped (skipInvalid); stats.skipped counts them all. */
  skipped: DataIssue[];
}

/**
 * Whether cutting an example masks a cut trained turn (truncateExample's `protectTurns`): yes for
 * assistant-only / completion-only training, no for plain text or train-on-all. One rule for the
 * CLI's prepare (maxLength given) and the studio's per-run cut (cutExample on prepared examples).
 */
export function protectsTurns(trainOn: TrainOn, format: DataFormat): boolean {
  return trainOn !== 'all' && format !== 'text';
}

/** An example cut to `maxLength` by the dataset's rule; `example` null when no trained token is left. */
export function cutExample<E extends EncodedExample>(ex: E, maxLength: number, protect: boolean): { example: E | null; truncated: boolean; maskedPartialTurn: boolean } {
  if (ex.inputIds.length <= maxLength) return { example: ex, truncated: false, maskedPartialTurn: false };
  const t = truncateExample(ex, maxLength, protect);
  const example = countTrained(t.example.trainMask) === 0 ? null : { ...ex, ...t.example };
  return { example, truncated: true, maskedPartialTurn: t.maskedPartialTurn };
}

/**
 * Reads, validates, formats and tokenizes a dataset, streaming. Refuses it (throws DatasetError
 * listing every bad line) when any record is bad and `skipInvalid` is off, when it is empty,
 * binary or not UTF-8, or when nothing trainable is left.
 */
export async function prepareDataset(
  input: DatasetInput,
  tok: ModelTokenizer,
  opts: PrepareOptions = {},
): Promise<PreparedDataset> {
  const source = toRecordSource(input, opts);
  const name = source.files.join(', ');
  const fileType: FileType = source.fileType;
  const mapping = opts.mapping ?? {};
  const trainOn: TrainOn = opts.trainOn ?? 'assistant';
  const maxLength = opts.maxLength ?? null;
  if (maxLength !== null && !(Number.isInteger(maxLength) && maxLength >= 2)) {
    throw new Error(`maxLength must be an integer >= 2, got ${maxLength}`);
  }
  let format: DataFormat | null = opts.format && opts.format !== 'auto' ? opts.format : null;
  if (fileType === 'txt' && !format) format = 'text';

  const warnings = new Set<string>();
  const warn = (m: string) => warnings.add(m);
  const issues: DataIssue[] = [];
  let issueCount = 0;
  const addIssue = (rec: IssuePlace, reason: string): void => {
    if (++issueCount <= MAX_LISTED_ISSUES) issues.push({ ...issuePlace(rec), reason });
  };
  const examples = new ExampleTable();
  let truncated = 0;
  let maskedPartialTurns = 0;
  const dropped: string[] = [];
  let records = 0;
  let progress: { bytes: number; lines: number; rows: number; totalRows?: number } = { bytes: 0, lines: 0, rows: 0 };
  let usedChat = false;

  const report = () =>
    opts.onProgress?.({ ...progress, examples: examples.length, invalid: issueCount });

  // A columnar file decodes only what a format (or the preference hint) can read; a mapped column is among them.
  const columns = [...formatColumns(mapping), ...PAIR_FIELDS];
  for await (const rec of source.records({ mapping: opts.mapping, maxRecords: opts.maxRecords, columns, onProgress: (p) => (progress = p) })) {
    records++;
    if (records % 2000 === 0) {
      report();
      if (opts.signal) {
        await new Promise((r) => setTimeout(r, 0));
        if (opts.signal.aborted) throw new DatasetError('cancelled');
      }
    }
    if ('error' in rec) {
      addIssue(rec, rec.error);
      continue;
    }
    try {
      if (!format) {
        format = detectFormat(rec.value, mapping);
        if (!format && isPreferenceRecord(rec.value)) {
          throw new RecordError('this is preference data (chosen / rejected pairs): it trains with a preference method (DPO, IPO or ORPO), not as SFT examples');
        }
        if (!format) {
          const keys =
            rec.value && typeof rec.value === 'object' && !Array.isArray(rec.value) ? Object.keys(rec.value) : [];
          throw new RecordError(
            `no known fields${keys.length ? ` (found: ${keys.slice(0, 8).join(', ')})` : ''}; expected ${describeFormats()}, or give a column mapping`,
          );
        }
      }
      const ex = toExample(rec.value, format, mapping);
      if (ex.kind === 'chat') usedChat = true;
      let enc = encodeExample(ex, tok, { trainOn, addBos: opts.addBos, maxTokens: opts.cutBeforeTokenizing === false ? undefined : maxLength ?? undefined }, warn);
      if (countTrained(enc.trainMask) === 0 && !enc.trainedPastCut) {
        throw new RecordError('0 trainable tokens (nothing in this example is trained)');
      }
      let wasTruncated = false;
      if (maxLength !== null) {
        const t = cutExample(enc, maxLength, protectsTurns(trainOn, format));
        if (t.truncated) truncated++;
        if (t.maskedPartialTurn) maskedPartialTurns++;
        if (t.example === null) {
          dropped.push(recordPlace(rec));
          continue;
        }
        enc = t.example;
        wasTruncated = t.truncated;
      }
      examples.push(rec.line, enc.inputIds, enc.trainMask, wasTruncated);
      if (opts.limit !== undefined && examples.length >= opts.limit) break;
    } catch (e) {
      if (e instanceof RecordError) addIssue(rec, e.message);
      else throw e;
    }
  }
  report();

  const skipped = issueCount;
  if (skipped && !opts.skipInvalid) {
    throw new DatasetError(
      `the dataset was refused: ${skipped} invalid record${skipped === 1 ? '' : 's'} (fix ${skipped === 1 ? 'it' : 'them'}, or skip invalid lines)`,
      issues,
      issueCount,
    );
  }
  if (records === 0) {
    throw new DatasetError(`the dataset is empty: no records found${name ? ` in ${name}` : ''}`);
  }
  if (dropped.length) {
    warn(
      `${dropped.length} example${dropped.length === 1 ? '' : 's'} had no trained token left after truncation to ${maxLength} tokens and ${dropped.length === 1 ? 'was' : 'were'} dropped (${dropped.slice(0, 10).join(', ')}${dropped.length > 10 ? `, and ${dropped.length - 10} more` : ''}); raise the maximum length`,
    );
  }
  if (maskedPartialTurns) {
    warn(
      `${maskedPartialTurns} truncated example${maskedPartialTurns === 1 ? '' : 's'} lost the end of an assistant turn: the cut turn is not trained (the model would not learn to stop)`,
    );
  }
  if (examples.length === 0) {
    throw new DatasetError(
      skipped
        ? `no valid examples: all ${skipped} records were invalid`
        : `no examples left: every example lost its trained tokens to truncation at ${maxLength} tokens`,
      issues,
      issueCount,
    );
  }
  for (const w of tok.warnings) warn(w);
  if (usedChat) for (const w of tok.templateWarnings) warn(w);
  if (skipped) warn(`${skipped} invalid record${skipped === 1 ? ' was' : 's were'} skipped`);

  const lengths = Array.from({ length: examples.length }, (_, i) => examples.tokenCount(i));
  let tokens = 0;
  let trainedTokens = 0;
  for (let i = 0; i < examples.length; i++) {
    tokens += examples.tokenCount(i);
    trainedTokens += countTrained(examples.mask(i));
  }
  const stats: DatasetStats = {
    fileType,
    format: format!,
    defaultChatTemplate: usedChat && tok.templateIsDefault,
    trainOn,
    examples: examples.length,
    skipped,
    tokens,
    trainedTokens,
    truncated,
    maskedPartialTurns,
    droppedAfterTruncation: dropped.length,
    maxLength,
    minTokens: lengths.reduce((a, b) => Math.min(a, b), Infinity),
    maxTokens: lengths.reduce((a, b) => Math.max(a, b), 0),
    meanTokens: tokens / examples.length,
    histogram: lengthHistogram(lengths),
  };
  return { examples, stats, warnings: [...warnings], skipped: issues };
}
