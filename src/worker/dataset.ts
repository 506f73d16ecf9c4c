// The worker's use of the dataset pipeline (src/data): the model's tokenizer from its folder, a
// file → examples with masks and a summary for the UI, and the examples cut to a run's max length.
//
// loadDataset receives the file with its read options (format, column mapping, text mode, train
// on all tokens) and an optional validation file, as protocol.ts's loadDataset declares them.
// The summary carries, beyond DatasetSummary,
// `details` (DatasetDetails): per-example lengths and the shortest max length that keeps each
// example trainable, so the page shows truncation counts for any Max length without tokenizing
// again, the file line of each previewed example, and the validation file's counts.
import {
  DatasetError,
  ModelTokenizer,
  parseColumnMapping,
  prepareDataset,
  tokenView,
  cutExample,
  protectsTurns,
  type DataFormat,
  type PreparedDataset,
  type PrepareOptions,
  type PrepareProgress,
  type TokenSequence,
} from '../data';
import type { ModelFolder } from '../engine/model/weights';
import { checkFileSize } from '../io/untrusted/json';
import { parseTokenizerTexts, TOKENIZER_FILE_LIMITS, type TokenizerTexts } from '../data/tokenizer';
import { holdOut } from '../engine/train/loop';
import { DEFAULT_READ_OPTIONS, type DatasetReadOptions, type PackagedFile } from '../util/dataset-package';
import { lineErrors, type DatasetSummary, type LineError } from './protocol';
import { maxValidationExamples } from '../settings/run-settings';

/** Examples shown token by token in the dataset panel, and tokens shown of each. */
export const PREVIEW_EXAMPLES = 40;
export const PREVIEW_TOKENS = 1024;

export interface SplitDetails {
  fileName: string;
  examples: number;
  tokens: number;
  trainedTokens: number;
  skipped: LineError[];
  skippedTotal: number;
  /** Tokens of each example (before truncation), in file order. */
  lengths: Int32Array;
  /** The smallest max length at which the example keeps a trained token (see keepLength). */
  keepAt: Int32Array;
}

/** What the dataset panel shows beyond DatasetSummary (travels as `summary.details`). */
export interface DatasetDetails extends SplitDetails {
  options: DatasetReadOptions;
  fileType: string;
  trainOn: 'assistant' | 'all';
  /** Chat data formatted with the default ChatML template (the model has none). */
  defaultChatTemplate: boolean;
  /** File line of each `summary.preview` row. */
  previewLines: number[];
  /** Tokens of each previewed example in full (the preview shows at most PREVIEW_TOKENS). */
  previewLengths: number[];
  /** The validation file's counts, when one was given. */
  validation: SplitDetails | null;
}

export type DetailedSummary = DatasetSummary & { details: DatasetDetails };

/** The validation file's examples, per prepared dataset (the handler keeps `prepared`). */
const validationSets = new WeakMap<PreparedDataset, PreparedDataset>();

export async function loadTokenizer(folder: ModelFolder): Promise<ModelTokenizer> {
  if (!(await folder.has('tokenizer.json'))) throw new DatasetError(`${folder.name}: tokenizer.json is missing (only fast tokenizers are supported)`);
  // Untrusted files: each size is checked before the file is read.
  const read = async (f: string, max: number): Promise<string | undefined> => {
    if (!(await folder.has(f))) return undefined;
    checkFileSize((await folder.source(f)).size, max, (_field, detail) => {
      throw new DatasetError(`${folder.name}/${f} ${detail}`);
    });
    return folder.text(f);
  };
  const texts: TokenizerTexts = {
    tokenizerJson: (await read('tokenizer.json', TOKENIZER_FILE_LIMITS.tokenizerJson))!,
    tokenizerConfig: await read('tokenizer_config.json', TOKENIZER_FILE_LIMITS.tokenizerConfig),
    chatTemplate: await read('chat_template.jinja', TOKENIZER_FILE_LIMITS.chatTemplate),
    modelConfig: await read('config.json', TOKENIZER_FILE_LIMITS.modelConfig),
  };
  return ModelTokenizer.load(parseTokenizerTexts(texts, folder.name));
}

function protects(prepared: PreparedDataset): boolean {
  return protectsTurns(prepared.stats.trainOn, prepared.stats.format);
}

/**
 * The smallest max length L at which truncateExample(ex, L, protect) leaves a trained token: with
 * protection, the end of the first trained span (a cut span is masked whole); without, one past
 * the first trained token. Matches truncateExample exactly (see dataset.test.ts).
 */
export function keepLength(trainMask: ArrayLike<number>, protect: boolean): number {
  let i = 0;
  while (i < trainMask.length && trainMask[i] !== 1) i++;
  if (i === trainMask.length) return Number.MAX_SAFE_INTEGER;
  if (!protect) return i + 1;
  while (i < trainMask.length && trainMask[i] === 1) i++;
  return i;
}

function splitDetails(fileName: string, prepared: PreparedDataset): SplitDetails {
  const protect = protects(prepared);
  const n = prepared.examples.length;
  const lengths = new Int32Array(n);
  const keepAt = new Int32Array(n);
  prepared.examples.forEach((ex, i) => {
    lengths[i] = ex.inputIds.length;
    keepAt[i] = Math.min(2 ** 31 - 1, keepLength(ex.trainMask, protect));
  });
  return {
    fileName,
    examples: prepared.stats.examples,
    tokens: prepared.stats.tokens,
    trainedTokens: prepared.stats.trainedTokens,
    skipped: lineErrors(prepared.skipped),
    skippedTotal: prepared.stats.skipped,
    lengths,
    keepAt,
  };
}

function prepareOptions(o: DatasetReadOptions): Omit<PrepareOptions, 'fileName' | 'skipInvalid' | 'onProgress'> {
  let mapping;
  try {
    mapping = o.mapping.trim() ? parseColumnMapping(o.mapping) : undefined;
  } catch (e) {
    throw new DatasetError(`Column mapping: ${(e as Error).message.replace(/^column mapping:?\s*/i, '')}`);
  }
  return {
    format: o.format === 'auto' ? 'auto' : (o.format as DataFormat),
    mapping,
    txtMode: o.txtMode,
    trainOn: o.trainOn,
    maxRecords: o.maxRecords,
  };
}

export async function loadDataset(
  tok: ModelTokenizer,
  fileName: string,
  /** A text file's bytes, or a Parquet file read by byte ranges from its Blob. */
  data: Uint8Array | Blob,
  skipInvalid: boolean,
  onProgress: (p: PrepareProgress) => void,
  /** How to read the file, and a validation file read the same way (protocol.ts's loadDataset). */
  read: { options?: DatasetReadOptions; validation?: PackagedFile | null } = {},
): Promise<{ prepared: PreparedDataset; summary: DetailedSummary }> {
  const options = read.options ?? DEFAULT_READ_OPTIONS;
  const main = { name: fileName, data };
  const pkg = { validation: read.validation ?? null };
  const prepare = prepareOptions(options);
  const prepared = await prepareDataset([main], tok, { ...prepare, skipInvalid, onProgress });

  let validation: PreparedDataset | null = null;
  if (pkg.validation) {
    const v = pkg.validation;
    try {
      validation = await prepareDataset(v.bytes, tok, { ...prepare, fileName: v.name, skipInvalid });
    } catch (e) {
      if (e instanceof DatasetError) throw new DatasetError(`Validation file ${v.name}: ${e.message}`, e.issues, e.issueCount);
      throw e;
    }
    validationSets.set(prepared, validation);
  }

  const s = prepared.stats;
  const shown = prepared.examples.slice(0, PREVIEW_EXAMPLES);
  const details: DatasetDetails = {
    ...splitDetails(main.name, prepared),
    options,
    fileType: s.fileType,
    trainOn: s.trainOn,
    defaultChatTemplate: s.defaultChatTemplate,
    previewLines: shown.map((ex) => ex.line),
    previewLengths: shown.map((ex) => ex.inputIds.length),
    validation: validation && pkg.validation ? splitDetails(pkg.validation.name, validation) : null,
  };
  const summary: DetailedSummary = {
    fileName,
    format: s.format,
    examples: s.examples,
    skipped: lineErrors(prepared.skipped),
    skippedTotal: s.skipped,
    warnings: [...prepared.warnings, ...(validation ? validation.warnings.map((w) => `Validation file: ${w}`) : [])],
    tokens: s.tokens,
    trainedTokens: s.trainedTokens,
    longestExample: s.maxTokens,
    meanTokens: s.meanTokens,
    histogram: s.histogram,
    preview: shown.map((ex) =>
      tokenView({ inputIds: ex.inputIds.subarray(0, PREVIEW_TOKENS), trainMask: ex.trainMask.subarray(0, PREVIEW_TOKENS) }, tok),
    ),
    details,
  };
  return { prepared, summary };
}

function cut(prepared: PreparedDataset, maxLength: number): TokenSequence[] {
  const protect = protects(prepared);
  const out: TokenSequence[] = [];
  for (const ex of prepared.examples) {
    const t = cutExample(ex, maxLength, protect).example;
    if (t) out.push(t);
  }
  return out;
}

/** The examples cut to `maxLength` (a cut assistant turn is masked); those left with nothing to train are dropped. */
export function truncatedExamples(prepared: PreparedDataset, maxLength: number): TokenSequence[] {
  const out = cut(prepared, maxLength);
  if (out.length === 0) throw new DatasetError(`no example has a trained token within the first ${maxLength} tokens: raise Max length`);
  return out;
}

/** The validation file's examples cut to `maxLength`, or null when the dataset came without one. */
export function validationFileExamples(prepared: PreparedDataset, maxLength: number): TokenSequence[] | null {
  const v = validationSets.get(prepared);
  if (!v) return null;
  const out = cut(v, maxLength);
  if (out.length === 0) throw new DatasetError(`no validation example has a trained token within the first ${maxLength} tokens: raise Max length`);
  return out;
}

/**
 * Training and validation examples for a run: the validation file when the dataset has one,
 * else `validationExamples` (at most a fifth) held out of the dataset by a seeded split.
 */
export function trainValidationSplit(
  prepared: PreparedDataset,
  maxLength: number,
  validationExamples: number,
  seed: number,
): { train: TokenSequence[]; validation: TokenSequence[] } {
  const examples = truncatedExamples(prepared, maxLength);
  const file = validationFileExamples(prepared, maxLength);
  if (file) return { train: examples, validation: file };
  // The studio holds out at most a fifth; the rule itself is the loop's (CLI and worker alike).
  return holdOut(examples, Math.min(validationExamples, maxValidationExamples(examples.length)), seed);
}
