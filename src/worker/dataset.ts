// The worker's use of the dataset pipeline (src/data): the model's tokenizer from its folder, a
// file → examples with masks and a summary for the UI, and the examples cut to a run's max length.
// A preference file (detected as cli train detects it) becomes pairs instead (preparePreferenceDataset,
// no length limit), previewed as prompt | chosen | rejected and cut per run by TRL's rules (cutPair).
//
// loadDataset receives the files (one, or a Hub split's Parquet shards read as one source) with
// their read options (format, column mapping, text mode, train on all tokens) and an optional
// validation file, as protocol.ts's loadDataset declares them.
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
  lengthHistogram,
  cutExample,
  protectsTurns,
  type DataFormat,
  type PreparedDataset,
  type PrepareOptions,
  type PrepareProgress,
  type RecordFile,
} from '../data';
import type { ModelFolder } from '../engine/model/weights';
import { cutPair, isPreferenceFile, preparePreferenceDataset, type PreferencePair, type PreparedPreference } from '../data/preference';
import { fileTypeFromName } from '../data/parse';
import { itemSubset, planItems, type PlanItems } from '../engine/train/plan';
import { checkFileSize } from '../io/untrusted/json';
import { readTokenizerFiles } from '../data/tokenizer';
import { holdOut } from '../engine/train/loop';
import { DEFAULT_READ_OPTIONS, packDataset, type DatasetOrigin, type DatasetReadOptions, type PackagedFile } from '../util/dataset-package';

/** A validation file as the page sends it (its bytes). */
export interface HeldOutFile {
  name: string;
  bytes: Uint8Array;
}
import { lineErrors, type DatasetSummary, type LineError, type PairPreview } from './protocol';
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

/**
 * A loaded dataset as the worker keeps it: SFT examples (src/data/pipeline.ts), or preference pairs
 * (src/data/preference.ts) prepared without a length limit and cut for each run (cutPair).
 */
export type LoadedData = PreparedDataset | PreparedPreference;
export const isPairData = (d: LoadedData): d is PreparedPreference => 'pairs' in d;

/** The validation file's examples, per prepared dataset (the handler keeps `prepared`). */
const validationSets = new WeakMap<LoadedData, LoadedData>();

export async function loadTokenizer(folder: ModelFolder): Promise<ModelTokenizer> {
  return ModelTokenizer.load(await readTokenizerFiles(folder));
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
  for (let i = 0; i < n; i++) {
    lengths[i] = prepared.examples.tokenCount(i);
    keepAt[i] = Math.min(2 ** 31 - 1, keepLength(prepared.examples.mask(i), protect));
  }
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
  /** The name the page shows (a Hub split's name when it is several files). */
  fileName: string,
  /**
   * The training files, read as one source in order: a text file's bytes, or Parquet files (a Hub
   * split's shards) read by byte ranges from their Blobs, never whole. Records name their file.
   */
  files: RecordFile[],
  skipInvalid: boolean,
  onProgress: (p: PrepareProgress) => void,
  /** How to read the files, and a validation file read the same way (protocol.ts's loadDataset). */
  read: { options?: DatasetReadOptions; validation?: HeldOutFile | null } = {},
): Promise<{ prepared: LoadedData; summary: DetailedSummary }> {
  const options = read.options ?? DEFAULT_READ_OPTIONS;
  const pkg = { validation: read.validation ?? null };
  // Preference pairs are detected as cli train detects them (the first record has chosen and rejected).
  if (options.format === 'auto' && (await isPreferenceFile(files))) {
    return loadPreference(tok, fileName, files, skipInvalid, options, pkg.validation);
  }
  const prepare = prepareOptions(options);
  const prepared = await prepareDataset(files, tok, { ...prepare, skipInvalid, onProgress });

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
  const shown = prepared.examples.first(PREVIEW_EXAMPLES);
  const details: DatasetDetails = {
    ...splitDetails(fileName, prepared),
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

/**
 * The package a run record keeps (src/util/dataset-package.ts): the training files in order, their
 * read options, the validation file and the Hub origin, so a resumed run reads them as loadDataset
 * did. A Blob made of the files' own Blobs: a Parquet file (a Hub split's shards too) is not read
 * to be kept.
 */
export function recordPackage(files: RecordFile[], options: DatasetReadOptions, validation: HeldOutFile | null, hub: DatasetOrigin | null = null): Blob {
  const train: PackagedFile[] = files.map((f) => {
    const d = f.data;
    if (d instanceof Uint8Array || (typeof Blob !== 'undefined' && d instanceof Blob)) return { name: f.name, data: d };
    throw new DatasetError(`${f.name}: a run record keeps a file's bytes or Blob, not a stream`);
  });
  return packDataset({ options, hub, train, validation: validation && { name: validation.name, data: validation.bytes } });
}

/** A pair's prompt and completions as the preview shows them side by side. */
function pairPreview(p: PreferencePair, tok: ModelTokenizer): PairPreview {
  const n = p.promptTokens;
  const view = (ids: Int32Array, mask: Uint8Array) => tokenView({ inputIds: ids.subarray(0, PREVIEW_TOKENS), trainMask: mask.subarray(0, PREVIEW_TOKENS) }, tok);
  return {
    line: p.line,
    prompt: view(p.chosen.inputIds.subarray(0, n), p.chosen.trainMask.subarray(0, n)),
    chosen: view(p.chosen.inputIds.subarray(n), p.chosen.trainMask.subarray(n)),
    rejected: view(p.rejected.inputIds.subarray(n), p.rejected.trainMask.subarray(n)),
  };
}

const trainedOf = (mask: Uint8Array): number => mask.reduce((a, m) => a + m, 0);

/** A preference file's counts: an example is a pair, its length the longer side (the row it takes). */
function pairSplitDetails(fileName: string, prepared: PreparedPreference): SplitDetails {
  const n = prepared.pairs.length;
  const lengths = new Int32Array(n);
  let trainedTokens = 0;
  prepared.pairs.forEach((p, i) => {
    lengths[i] = Math.max(p.chosen.inputIds.length, p.rejected.inputIds.length);
    trainedTokens += trainedOf(p.chosen.trainMask) + trainedOf(p.rejected.trainMask);
  });
  return {
    fileName,
    examples: n,
    tokens: prepared.stats.tokens,
    trainedTokens,
    skipped: lineErrors(prepared.skipped),
    skippedTotal: prepared.stats.skipped,
    lengths,
    // The length rules keep a prompt shorter than Max length, so every pair keeps completion tokens.
    keepAt: new Int32Array(n).fill(1),
  };
}

async function preparePairs(tok: ModelTokenizer, files: RecordFile[], skipInvalid: boolean, what = ''): Promise<PreparedPreference> {
  try {
    return await preparePreferenceDataset(files, tok, { fileName: files[0].name, skipInvalid });
  } catch (e) {
    if (e instanceof DatasetError && what) throw new DatasetError(`${what} ${files[0].name}: ${e.message}`, e.issues, e.issueCount);
    throw e;
  }
}

/** loadDataset for a preference file: its pairs (no length limit yet), a validation file of pairs, the summary. */
async function loadPreference(
  tok: ModelTokenizer,
  fileName: string,
  files: RecordFile[],
  skipInvalid: boolean,
  options: DatasetReadOptions,
  validationFile: HeldOutFile | null,
): Promise<{ prepared: PreparedPreference; summary: DetailedSummary }> {
  const prepared = await preparePairs(tok, files, skipInvalid);
  let validation: PreparedPreference | null = null;
  if (validationFile) {
    if (!(await isPreferenceFile(validationFile.bytes, fileTypeFromName(validationFile.name)))) {
      throw new DatasetError(`Validation file ${validationFile.name}: not preference data (records with "chosen" and "rejected"), as ${fileName} is`);
    }
    validation = await preparePairs(tok, [{ name: validationFile.name, data: validationFile.bytes }], skipInvalid, 'Validation file');
    validationSets.set(prepared, validation);
  }
  const s = prepared.stats;
  const shown = prepared.pairs.slice(0, PREVIEW_EXAMPLES);
  const split = pairSplitDetails(fileName, prepared);
  const details: DatasetDetails = {
    ...split,
    options,
    fileType: s.fileType,
    trainOn: 'assistant',
    defaultChatTemplate: s.shape !== 'standard' && tok.templateIsDefault,
    previewLines: shown.map((p) => p.line),
    previewLengths: shown.map((p) => Math.max(p.chosen.inputIds.length, p.rejected.inputIds.length)),
    validation: validation && validationFile ? pairSplitDetails(validationFile.name, validation) : null,
  };
  const summary: DetailedSummary = {
    fileName,
    format: 'preference',
    examples: s.pairs,
    skipped: split.skipped,
    skippedTotal: s.skipped,
    warnings: [...prepared.warnings, ...(validation ? validation.warnings.map((w) => `Validation file: ${w}`) : [])],
    tokens: s.tokens,
    trainedTokens: split.trainedTokens,
    longestExample: s.maxTokens,
    meanTokens: s.meanTokens,
    histogram: lengthHistogram(Array.from(split.lengths)),
    preview: [],
    pairs: { shape: s.shape, preview: shown.map((p) => pairPreview(p, tok)) },
    details,
  };
  return { prepared, summary };
}

/**
 * The examples a run trains on, cut to `maxLength`: those that keep a trained token (keepLength,
 * from the mask alone), each cut when a batch takes it. A view over the example table: no object
 * per example.
 */
function cut(prepared: PreparedDataset, maxLength: number): PlanItems {
  const protect = protects(prepared);
  const table = prepared.examples;
  const kept: number[] = [];
  for (let i = 0; i < table.length; i++) if (keepLength(table.mask(i), protect) <= maxLength) kept.push(i);
  const examples: PlanItems = {
    length: table.length,
    item: (i) => cutExample(table.example(i), maxLength, protect).example!,
    lengthOf: (i) => Math.min(table.tokenCount(i), maxLength),
  };
  return itemSubset(examples, kept);
}

/** Pairs cut by TRL's length rules for a run; a Max prompt length not below Max length is refused. */
function cutPairs(prepared: PreparedPreference, maxLength: number, maxPromptLength: number | undefined): PreferencePair[] {
  const prompt = maxPromptLength ?? Math.floor(maxLength / 2);
  if (!(prompt < maxLength)) throw new DatasetError(`Max prompt length (${prompt}) must be below Max length (${maxLength}): a completion needs room`);
  return prepared.pairs.map((p) => cutPair(p, maxLength, prompt));
}

/** The run's training items: the examples cut to `maxLength`, or the pairs cut by the length rules. */
export function truncatedExamples(prepared: LoadedData, maxLength: number, maxPromptLength?: number): PlanItems {
  if (isPairData(prepared)) return planItems(cutPairs(prepared, maxLength, maxPromptLength));
  const out = cut(prepared, maxLength);
  if (out.length === 0) throw new DatasetError(`no example has a trained token within the first ${maxLength} tokens: raise Max length`);
  return out;
}

/** The validation file's examples cut to `maxLength`, or null when the dataset came without one. */
export function validationFileExamples(prepared: LoadedData, maxLength: number, maxPromptLength?: number): PlanItems | null {
  const v = validationSets.get(prepared);
  if (!v) return null;
  if (isPairData(v)) return planItems(cutPairs(v, maxLength, maxPromptLength));
  const out = cut(v, maxLength);
  if (out.length === 0) throw new DatasetError(`no validation example has a trained token within the first ${maxLength} tokens: raise Max length`);
  return out;
}

/**
 * Training and validation examples for a run: the validation file when the dataset has one,
 * else `validationExamples` (at most a fifth) held out of the dataset by a seeded split.
 */
export function trainValidationSplit(
  prepared: LoadedData,
  maxLength: number,
  validationExamples: number,
  seed: number,
  maxPromptLength?: number,
): { train: PlanItems; validation: PlanItems } {
  const examples = truncatedExamples(prepared, maxLength, maxPromptLength);
  const file = validationFileExamples(prepared, maxLength, maxPromptLength);
  if (file) return { train: examples, validation: file };
  // The studio holds out at most a fifth; the rule itself is the loop's (CLI and worker alike).
  return holdOut(examples, Math.min(validationExamples, maxValidationExamples(examples.length)), seed);
}
