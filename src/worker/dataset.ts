// The worker's use of the dataset pipeline (src/data): the model's tokenizer from its folder, a
// file → examples with masks and a summary for the UI, and the examples cut to a run's max length.
import {
  DatasetError,
  ModelTokenizer,
  prepareDataset,
  tokenView,
  truncateExample,
  type PreparedDataset,
  type TokenSequence,
} from '../data';
import type { ModelFolder } from '../engine/model/weights';
import type { DatasetSummary, LineError } from './protocol';


const PREVIEW_EXAMPLES = 3;
const PREVIEW_TOKENS = 256;

export async function loadTokenizer(folder: ModelFolder): Promise<ModelTokenizer> {
  const json = async (f: string): Promise<unknown> => ((await folder.has(f)) ? JSON.parse(await folder.text(f)) : undefined);
  if (!(await folder.has('tokenizer.json'))) throw new DatasetError(`${folder.name}: tokenizer.json is missing (only fast tokenizers are supported)`);
  return ModelTokenizer.load({
    tokenizerJson: await json('tokenizer.json'),
    tokenizerConfig: await json('tokenizer_config.json'),
    chatTemplate: (await folder.has('chat_template.jinja')) ? await folder.text('chat_template.jinja') : undefined,
  });
}

export function lineErrors(issues: ReadonlyArray<{ line: number; reason: string }>): LineError[] {
  return issues.map((i) => ({ line: i.line, message: i.reason }));
}

export async function loadDataset(
  tok: ModelTokenizer,
  fileName: string,
  bytes: Uint8Array,
  skipInvalid: boolean,
  onProgress: (lines: number) => void,
): Promise<{ prepared: PreparedDataset; summary: DatasetSummary }> {
  const prepared = await prepareDataset(bytes, tok, { fileName, skipInvalid, onProgress: (p) => onProgress(p.lines) });
  const s = prepared.stats;
  const summary: DatasetSummary = {
    fileName,
    format: s.format,
    examples: s.examples,
    skipped: lineErrors(prepared.skipped),
    warnings: prepared.warnings,
    tokens: s.tokens,
    trainedTokens: s.trainedTokens,
    longestExample: s.maxTokens,
    meanTokens: s.meanTokens,
    histogram: s.histogram,
    preview: prepared.examples.slice(0, PREVIEW_EXAMPLES).map((ex) =>
      tokenView({ inputIds: ex.inputIds.subarray(0, PREVIEW_TOKENS), trainMask: ex.trainMask.subarray(0, PREVIEW_TOKENS) }, tok),
    ),
  };
  return { prepared, summary };
}

/** The examples cut to `maxLength` (a cut assistant turn is masked); those left with nothing to train are dropped. */
export function truncatedExamples(prepared: PreparedDataset, maxLength: number): TokenSequence[] {
  const protect = prepared.stats.trainOn !== 'all' && prepared.stats.format !== 'text';
  const out: TokenSequence[] = [];
  for (const ex of prepared.examples) {
    const t = truncateExample(ex, maxLength, protect).example;
    if (t.trainMask.some((m) => m === 1)) out.push(t);
  }
  if (out.length === 0) throw new DatasetError(`no example has a trained token within the first ${maxLength} tokens: raise Max length`);
  return out;
}
