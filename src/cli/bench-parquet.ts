// bench-parquet [--model MODEL_DIR] [--mb 200] [--group-rows 5000] [--jsonl] [--keep]
// Memory of reading a large Parquet file: writes (hyparquet-writer, snappy, row group by row group)
// a chat dataset of at least --mb MB whose rows carry a ~4 KB `context` column the messages format
// does not train on, then prepares it in a fresh process (`bench-parquet --child FILE`) and prints
// one JSON line:
//   {"bench":"parquet","file_mb","rows","row_groups","row_group_mb","examples","examples_retained_mb",
//    "baseline_rss_mb","peak_rss_mb","growth_mb","ratio","bound_ok","seconds","model"}
// row_group_mb is the largest row group's decoded size (its columns' uncompressed bytes);
// examples_retained_mb the prepared examples' token ids and masks; growth_mb the peak RSS over the
// RSS before reading (tokenizer loaded); ratio = growth / (row group + examples); the target is
// ratio under 2 (bound_ok). --jsonl also writes the same rows as JSON Lines and prepares that
// file the same way, for comparison (`jsonl` in the output: the text reader's growth for the same data).
// A benchmark, not a test: nothing here asserts a time.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ParquetWriter } from 'hyparquet-writer';
import { fileWriter } from 'hyparquet-writer/src/node.js';
import { prepareDataset } from '../data/pipeline';
import { openParquet } from '../data/records/parquet';
import { seededRandom } from '../data/sequences';
import { parseCommandLine } from './args';
import { loadModelTokenizer, nodeRandomAccess, openDataFile } from './prepare';

const WORDS = ('the a model learns data token train loss adapter rank weight layer attention query key value batch step ' +
  'gradient optimizer learning rate schedule warmup cosine epoch sequence length mask prompt answer question why how ' +
  'what when where explain summarize translate write code function return list number string browser GPU memory').split(' ');

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' } as const;
const SCHEMA = [
  { name: 'root', num_children: 2 },
  { name: 'messages', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'role', ...STRING },
  { name: 'content', ...STRING },
  { name: 'context', ...STRING },
];

/** Writes chat rows with a ~4 KB context each, `groupRows` per row group, until the file has `bytes`. Returns the rows. */
async function writeFile(path: string, bytes: number, groupRows: number, jsonl?: string): Promise<number> {
  const rnd = seededRandom(7);
  const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
  const writer = fileWriter(path);
  const pq = new ParquetWriter({ writer, schema: SCHEMA as never, codec: 'SNAPPY' });
  let rows = 0;
  while (writer.offset < bytes) {
    const messages: unknown[] = [];
    const context: string[] = [];
    for (let i = 0; i < groupRows; i++) {
      messages.push([{ role: 'user', content: `${words(8)}?` }, { role: 'assistant', content: `${words(16)}.` }]);
      context.push(words(600)); // ~4 KB
    }
    await pq.write({ columnData: [{ name: 'messages', data: messages }, { name: 'context', data: context }], rowGroupSize: groupRows });
    if (jsonl) appendFileSync(jsonl, messages.map((m, i) => JSON.stringify({ messages: m, context: context[i] })).join('\n') + '\n');
    rows += groupRows;
  }
  await pq.finish();
  return rows;
}

/** The child: prepares the file and prints its memory as JSON. */
async function child(file: string, model: string): Promise<number> {
  const tok = await loadModelTokenizer(model);
  const parquet = file.endsWith('.parquet');
  const pq = parquet ? await openParquet(file, nodeRandomAccess(file)) : null;
  const rowGroup = pq ? Math.max(...pq.metadata.row_groups.map((g) => g.columns.reduce((a, c) => a + Number(c.meta_data?.total_uncompressed_size ?? 0), 0))) : 0;
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage().rss;
  const t0 = performance.now();
  // Sampled every 2,000 records: the JS heap and buffers in use (after a collection when the process
  // runs with --expose-gc), beside the RSS peak, which also holds garbage not yet collected.
  let heapPeak = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = () => {
    gc?.();
    const m = process.memoryUsage();
    heapPeak = Math.max(heapPeak, m.heapUsed + m.external);
  };
  const heapBase = (() => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  })();
  const ds = await prepareDataset(openDataFile(file), tok, { onProgress: sample });
  const seconds = (performance.now() - t0) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  const retained = ds.examples.bytes;
  const mb = (b: number) => Number((b / 2 ** 20).toFixed(1));
  const growth = peak - baseline;
  const ratio = growth / (rowGroup + retained);
  process.stdout.write(
    JSON.stringify({
      bench: 'parquet',
      file_mb: mb(statSync(file).size),
      rows: pq?.totalRows ?? ds.examples.length,
      row_groups: pq?.groupRows.length ?? 0,
      row_group_mb: mb(rowGroup),
      examples: ds.examples.length,
      examples_retained_mb: mb(retained),
      baseline_rss_mb: mb(baseline),
      peak_rss_mb: mb(peak),
      growth_mb: mb(growth),
      heap_growth_mb: mb(heapPeak - heapBase),
      gc_each_sample: gc !== undefined,
      ratio: Number(ratio.toFixed(2)),
      bound_ok: ratio < 2,
      seconds: Number(seconds.toFixed(1)),
      model,
    }) + '\n',
  );
  return 0;
}

export async function run(args: string[]): Promise<number> {
  const { flags, bools } = parseCommandLine('bench-parquet', args, { values: ['model', 'mb', 'group-rows', 'child'], bools: ['keep', 'jsonl'] });
  const model = flags['model'] ?? resolve(process.cwd(), '../shared/fixtures/reference/tiny-qwen3/model');
  if (flags['child']) return child(flags['child'], model);
  const mb = flags['mb'] ? Number(flags['mb']) : 200;
  const groupRows = flags['group-rows'] ? Number(flags['group-rows']) : 5000;
  if (!(mb > 0)) throw new Error('--mb must be a positive number');
  if (!Number.isInteger(groupRows) || groupRows < 1) throw new Error('--group-rows must be a positive integer');
  const dir = mkdtempSync(join(tmpdir(), 'bench-parquet-'));
  const file = join(dir, 'chat.parquet');
  const jsonl = bools.has('jsonl') ? join(dir, 'chat.jsonl') : undefined;
  try {
    await writeFile(file, mb * 2 ** 20, groupRows, jsonl);
    // A fresh process: the writer's memory is not in the reader's peak.
    const prepare = (f: string) => spawnSync('npm', ['run', '--silent', 'cli', '--', 'bench-parquet', '--child', f, '--model', model], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    const r = prepare(file);
    if (r.status !== 0 || !jsonl) {
      process.stdout.write(r.stdout ?? '');
      return r.status ?? 1;
    }
    const j = prepare(jsonl);
    process.stdout.write(JSON.stringify({ ...JSON.parse(r.stdout), jsonl: JSON.parse(j.stdout) }) + '\n');
    return j.status ?? 1;
  } finally {
    if (!bools.has('keep')) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${file}\n`);
  }
}
