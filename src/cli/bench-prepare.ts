// bench-prepare [--model MODEL_DIR] [--lines N] [--keep]
// Writes an N-line (default 100,000) chat JSONL to a temp folder, prepares it (parse, validate,
// chat template, tokenize, assistant masks) with a fixture tokenizer, and prints one JSON line:
// {"lines":100000,"seconds":...,"lines_per_s":...,"tokens":...,"model":"..."}
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { prepareDataset } from '../data/pipeline';
import { seededRandom } from '../data/sequences';
import { parseCommandLine } from './args';
import { loadModelTokenizer, openDataFile } from './prepare';

const WORDS = (
  'the a model learns data token train loss adapter rank weight layer attention query key value ' +
  'batch step gradient optimizer learning rate schedule warmup cosine epoch sequence length mask ' +
  'prompt answer question why how what when where is are was be can could would should explain ' +
  'summarize translate write code function return value list number string python rust browser ' +
  'GPU memory fast slow small large 1 2 3 42 100 2024 café naïve 日本語 emoji 🚀 — "quoted" (yes)'
).split(' ');

/** Writes `lines` chat records (1-3 exchanges, sometimes a system prompt) to `path`, seeded. */
export async function writeChatJsonl(path: string, lines: number, seed = 1): Promise<void> {
  const rnd = seededRandom(seed);
  const sentence = (min: number, max: number) => {
    const n = min + Math.floor(rnd() * (max - min + 1));
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(WORDS[Math.floor(rnd() * WORDS.length)]);
    return w.join(' ') + (rnd() < 0.5 ? '.' : '?');
  };
  const out = createWriteStream(path);
  let buf = '';
  for (let i = 0; i < lines; i++) {
    const messages: { role: string; content: string }[] = [];
    if (rnd() < 0.3) messages.push({ role: 'system', content: sentence(4, 10) });
    const turns = 1 + Math.floor(rnd() * 3);
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: sentence(5, 25) });
      messages.push({ role: 'assistant', content: sentence(8, 40) });
    }
    buf += JSON.stringify({ messages }) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

export async function run(args: string[]): Promise<number> {
  const { flags, bools } = parseCommandLine('bench-prepare', args, { values: ['model', 'lines'], bools: ['keep'] });
  const model = flags['model'] ?? resolve(process.cwd(), '../shared/fixtures/reference/tiny-qwen3/model');
  const lines = flags['lines'] ? Number(flags['lines']) : 100_000;
  if (!Number.isInteger(lines) || lines < 1) throw new Error('--lines must be a positive integer');
  const dir = mkdtempSync(join(tmpdir(), 'bench-prepare-'));
  const file = join(dir, 'chat.jsonl');
  try {
    await writeChatJsonl(file, lines);
    const tok = await loadModelTokenizer(model);
    const t0 = performance.now();
    const ds = await prepareDataset(openDataFile(file), tok, { fileName: file });
    const seconds = (performance.now() - t0) / 1000;
    if (ds.examples.length !== lines) throw new Error(`prepared ${ds.examples.length} of ${lines} lines`);
    process.stdout.write(
      JSON.stringify({
        lines,
        seconds: Number(seconds.toFixed(3)),
        lines_per_s: Math.round(lines / seconds),
        tokens: ds.stats.tokens,
        model,
      }) + '\n',
    );
    return 0;
  } finally {
    if (!bools.has('keep')) rmSync(dir, { recursive: true, force: true });
  }
}
