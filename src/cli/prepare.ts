// prepare --model MODEL_DIR --data FILE [--format auto|text|completion|alpaca|messages|sharegpt]
//         [--max-length N] [--skip-invalid] [--json]
//         [--train-on assistant|all] [--map field=column,...] [--txt-mode line|paragraph] [--add-bos]
//         [--max-prompt-length N]   (preference data)
// Reads, validates and tokenizes a dataset exactly as training will. Preference data (records with
// "chosen" and "rejected", src/data/preference.ts) is told apart by its first record: --json then
// prints {"pairs":[{"line","prompt_tokens","chosen":{"input_ids","labels"},"rejected":{...}}...],"stats"}. With --json prints ONE JSON
// object {"examples":[{"input_ids":[...],"labels":[...]}...],"stats":{...}} (file order; labels are
// the ids where trained, -100 where masked). A refused dataset exits 1 and lists every bad line
// as `line N: reason` on stderr.
//
// Also the Node helpers other commands (train) use: loadModelTokenizer(dir), openDataFile(path),
// prepareDataFile(path, dir, options).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { DatasetError, formatIssue, formatIssues } from '../data/errors';
import { DATA_FORMATS, parseColumnMapping, type DataFormat } from '../data/formats';
import { prepareDataset, type PreparedDataset, type PrepareOptions } from '../data/pipeline';
import { fileTypeFromName } from '../data/parse';
import { openRecordSource, type RecordSource } from '../data/records/record-source';
import type { RandomAccess } from '../data/records/random-access';
import { isPreferenceFile, preparePreferenceDataset, type PreferenceOptions, type PreparedPreference } from '../data/preference';
import { numberProblem } from '../settings/run-settings';
import { runLimitError } from '../io/untrusted/limits';
import { ModelTokenizer, readTokenizerFiles } from '../data/tokenizer';
import { nodeFolder } from '../io/node-files';
import { parseArgs, usageErrors } from './args';
import { HUB_ENDPOINT_FLAG, openCliData, type CliData } from './data-arg';

/** Loads tokenizer.json, tokenizer_config.json and chat_template.jinja (if present) of a model folder. */
export async function loadModelTokenizer(dir: string): Promise<ModelTokenizer> {
  return ModelTokenizer.load(await readTokenizerFiles(nodeFolder(dir)));
}

/** A file read by byte ranges (each range read with its own file handle, so nothing stays open). */
export function nodeRandomAccess(path: string): RandomAccess {
  const byteLength = statSync(path).size;
  return {
    byteLength,
    async slice(start, end = byteLength) {
      const length = Math.max(0, Math.min(end, byteLength) - start);
      const out = new Uint8Array(length);
      const fh = await open(path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(out, done, length - done, start + done);
          if (bytesRead === 0) throw new Error(`${path} ended at byte ${start + done}: it changed while being read`);
          done += bytesRead;
        }
      } finally {
        await fh.close();
      }
      return out.buffer as ArrayBuffer;
    },
  };
}

/** A data file as a record source: text as a stream of 1 MiB chunks, Parquet by byte ranges (never read whole). */
export function openDataFile(path: string): RecordSource {
  return openDataFiles([path]);
}

/** Several data files of one type (a Hub split's shards) as one record source, read in order. */
export function openDataFiles(paths: readonly string[]): RecordSource {
  for (const path of paths) {
    if (!existsSync(path)) throw new Error(`${path}: no such file`);
    if (statSync(path).isDirectory()) throw new Error(`${path} is a folder, not a data file`);
  }
  const type = fileTypeFromName(paths[0]);
  return openRecordSource(
    paths.map((path) => ({ name: path, data: type === 'parquet' ? nodeRandomAccess(path) : (createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>) })),
    { fileType: type },
  );
}

/** Prepares a data file for a model folder (the type comes from the file's extension). */
export async function prepareDataFile(path: string, modelDir: string, opts: PrepareOptions = {}): Promise<PreparedDataset> {
  const tok = await loadModelTokenizer(modelDir);
  return prepareDataset(openDataFile(path), tok, { fileName: path, ...opts });
}

const USAGE =
  'usage: prepare --model MODEL_DIR --data FILE|hub:ID[@REVISION][:CONFIG][/SPLIT] [--hub-endpoint URL] [--format auto|text|completion|alpaca|messages|sharegpt] ' +
  '[--max-length N] [--skip-invalid] [--json] [--train-on assistant|all] [--map field=column,...] ' +
  '[--txt-mode line|paragraph] [--add-bos] [--max-prompt-length N]\n';

async function write(s: string): Promise<void> {
  if (!process.stdout.write(s)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
}

const PREPARE_VALUES = ['model', 'data', 'format', 'max-length', 'max-prompt-length', 'train-on', 'map', 'txt-mode', HUB_ENDPOINT_FLAG];

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(args, [...PREPARE_VALUES]);
  } catch (e) {
    process.stderr.write(`prepare: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { flags, bools } = parsed;
  const fail = (msg: string) => {
    process.stderr.write(`prepare: ${msg}\n${USAGE}`);
    return 2;
  };
  const wrong = usageErrors(parsed, { values: PREPARE_VALUES, bools: ['json', 'skip-invalid', 'add-bos', 'all-tokens'] });
  if (wrong.length) return fail(wrong.join(`\nprepare: `));
  const model = flags['model'];
  const data = flags['data'];
  if (!model || !data) return fail('--model and --data are required');
  const format = flags['format'] ?? 'auto';
  if (format !== 'auto' && !DATA_FORMATS.includes(format as DataFormat)) return fail(`--format ${format} is not known`);
  let maxLength: number | undefined;
  if (flags['max-length'] !== undefined) {
    maxLength = Number(flags['max-length']);
    if (!Number.isInteger(maxLength) || maxLength < 2) return fail('--max-length must be an integer >= 2');
    const over = runLimitError('max-length', maxLength);
    if (over) return fail(`--max-length ${over}`);
  }
  const trainOn = bools.has('all-tokens') ? 'all' : flags['train-on'] ?? 'assistant';
  if (trainOn !== 'assistant' && trainOn !== 'all') return fail('--train-on must be assistant or all');
  const txtMode = flags['txt-mode'] ?? 'line';
  if (txtMode !== 'line' && txtMode !== 'paragraph') return fail('--txt-mode must be line or paragraph');
  let mapping;
  try {
    mapping = flags['map'] ? parseColumnMapping(flags['map']) : undefined;
  } catch (e) {
    return fail((e as Error).message);
  }
  const json = bools.has('json');

  let tok: ModelTokenizer;
  let source: RecordSource;
  let cli: CliData;
  try {
    tok = await loadModelTokenizer(model);
    cli = await openCliData(data, flags[HUB_ENDPOINT_FLAG], 'prepare');
    source = cli.open();
  } catch (e) {
    process.stderr.write(`prepare: ${(e as Error).message}\n`);
    return 1;
  }

  let preference: boolean;
  try {
    preference = await isPreferenceFile(cli.open());
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    process.stderr.write(`prepare: ${e.message}\n`);
    return 1;
  }
  if (preference) {
    let maxPromptLength: number | undefined;
    if (flags['max-prompt-length'] !== undefined) {
      maxPromptLength = Number(flags['max-prompt-length']);
      const problem = numberProblem('maxPromptLength', maxPromptLength, `--max-prompt-length ${flags['max-prompt-length']}:`);
      if (problem) return fail(problem);
    }
    return preparePreference(source, tok, { fileName: data, maxLength, maxPromptLength, skipInvalid: bools.has('skip-invalid'), addBos: bools.has('add-bos') }, json);
  }
  let ds: PreparedDataset;
  try {
    ds = await prepareDataset(source, tok, {
      fileName: data,
      format: format as DataFormat | 'auto',
      mapping,
      maxLength,
      trainOn,
      txtMode,
      skipInvalid: bools.has('skip-invalid'),
      addBos: bools.has('add-bos') ? true : undefined, // else the tokenizer's own rule
    });
  } catch (e) {
    if (e instanceof DatasetError) {
      process.stderr.write(`prepare: ${e.message}\n`);
      for (const line of formatIssues(e.issues, e.issueCount)) process.stderr.write(`${line}\n`);
      return 1;
    }
    throw e;
  }

  for (const w of ds.warnings) process.stderr.write(`warning: ${w}\n`);
  if (json) {
    await write('{"examples":[');
    // Written in ~1 MiB pieces: memory stays flat for large datasets.
    let buf = '';
    for (let i = 0; i < ds.examples.length; i++) {
      const ex = ds.examples.example(i);
      const labels = new Array<number>(ex.inputIds.length);
      for (let t = 0; t < labels.length; t++) labels[t] = ex.trainMask[t] ? ex.inputIds[t] : -100;
      buf += `${i ? ',' : ''}{"input_ids":[${ex.inputIds.join(',')}],"labels":[${labels.join(',')}]}`;
      if (buf.length > 1 << 20) {
        await write(buf);
        buf = '';
      }
    }
    await write(buf);
    await write(`],"stats":${JSON.stringify(ds.stats)}}\n`);
    return 0;
  }
  const s = ds.stats;
  const lines = [
    `${data}: ${s.fileType}, format ${s.format}${s.defaultChatTemplate ? ' (default ChatML template)' : ''}`,
    `examples        ${s.examples}${s.skipped ? `  (${s.skipped} invalid skipped)` : ''}`,
    `tokens          ${s.tokens}  (trained ${s.trainedTokens}, ${s.tokens ? ((100 * s.trainedTokens) / s.tokens).toFixed(1) : 0}%; loss on ${s.trainOn === 'all' ? 'all tokens' : 'assistant/completion tokens'})`,
    `length          min ${s.minTokens}, mean ${s.meanTokens.toFixed(1)}, max ${s.maxTokens}${s.maxLength ? `  (max length ${s.maxLength})` : ''}`,
  ];
  if (s.maxLength) {
    lines.push(
      `truncated       ${s.truncated}  (cut turns masked ${s.maskedPartialTurns}, dropped ${s.droppedAfterTruncation})`,
    );
  }
  lines.push('length histogram:');
  const peak = Math.max(1, ...s.histogram.counts);
  const firstBin = Math.max(0, s.histogram.counts.findIndex((c) => c > 0));
  s.histogram.counts.forEach((c, i) => {
    if (i < firstBin) return;
    const lo = s.histogram.edges[i];
    const hi = s.histogram.edges[i + 1];
    lines.push(`  ${String(lo).padStart(7)}-${String(hi).padEnd(7)} ${String(c).padStart(8)} ${'#'.repeat(Math.round((40 * c) / peak))}`);
  });
  for (const issue of ds.skipped.slice(0, 20)) lines.push(`skipped ${formatIssue(issue)}`);
  if (ds.stats.skipped > 20) lines.push(`... and ${ds.stats.skipped - 20} more skipped`);
  await write(lines.join('\n') + '\n');
  return 0;
}

/** prepare of a preference file: the pairs as training will batch them (chosen and rejected sides). */
async function preparePreference(source: RecordSource, tok: ModelTokenizer, opts: PreferenceOptions, json: boolean): Promise<number> {
  let ds: PreparedPreference;
  try {
    ds = await preparePreferenceDataset(source, tok, opts);
  } catch (e) {
    if (e instanceof DatasetError) {
      process.stderr.write(`prepare: ${e.message}\n`);
      for (const issue of e.issues) process.stderr.write(`${formatIssue(issue)}\n`);
      return 1;
    }
    if (e instanceof Error && /maxPromptLength/.test(e.message)) {
      process.stderr.write(`prepare: --max-prompt-length must be below --max-length\n`);
      return 2;
    }
    throw e;
  }
  for (const w of ds.warnings) process.stderr.write(`warning: ${w}\n`);
  const side = (s: { inputIds: Int32Array; trainMask: Uint8Array }) =>
    `{"input_ids":[${s.inputIds.join(',')}],"labels":[${Array.from(s.inputIds, (id, t) => (s.trainMask[t] ? id : -100)).join(',')}]}`;
  if (json) {
    await write('{"pairs":[');
    let buf = '';
    ds.pairs.forEach((p, i) => {
      buf += `${i ? ',' : ''}{"line":${p.line},"prompt_tokens":${p.promptTokens},"chosen":${side(p.chosen)},"rejected":${side(p.rejected)}}`;
    });
    await write(buf);
    await write(`],"stats":${JSON.stringify(ds.stats)}}\n`);
    return 0;
  }
  const s = ds.stats;
  const lines = [
    `${opts.fileName}: ${s.fileType}, preference pairs (${s.shape}): for --method dpo, ipo or orpo`,
    `pairs           ${s.pairs}${s.skipped ? `  (${s.skipped} invalid skipped)` : ''}  (${s.sequences} sequences)`,
    `tokens          ${s.tokens}  (mean ${s.meanTokens.toFixed(1)}, max ${s.maxTokens} per sequence)`,
    `truncated       ${s.truncated}`,
  ];
  for (const issue of ds.skipped.slice(0, 20)) lines.push(`skipped ${formatIssue(issue)}`);
  await write(lines.join('\n') + '\n');
  return 0;
}
