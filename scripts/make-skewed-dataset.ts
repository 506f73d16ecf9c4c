// Writes src/data/testdata/skewed-lengths.jsonl: a chat-like prompt/completion dataset whose
// lengths are skewed the way real SFT data is (most examples short, a long tail), for the packing
// benchmark (`bench --model DIR --data FILE [--packing]`). Deterministic: the same file every run.
//   npx vite-node scripts/make-skewed-dataset.ts
// Lengths are counted with the demo model's tokenizer (public/demo, the tiny-llama fixture's
// byte-level BPE): from 8 to 512 tokens, about 80% under 64. Other tokenizers give other counts
// of the same shape.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelTokenizer } from '../src/cli/prepare';
import { mulberry32 } from '../src/util/prng';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src', 'data', 'testdata', 'skewed-lengths.jsonl');
const tok = await loadModelTokenizer(join(root, 'public', 'demo'));
const EXAMPLES = 400;
const WORDS = 'the a of to in is was for on with as by at from it this that are be or an river stone light garden music paper window morning city answer question small large quick slow green blue north south learn build write read open close'.split(' ');

const rnd = mulberry32(2026);
/** Target total tokens: 80% in [8, 64), 15% in [64, 256), 5% in [256, 512]. */
function targetLength(): number {
  const u = rnd();
  const span = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  return u < 0.8 ? span(8, 63) : u < 0.95 ? span(64, 255) : span(256, 512);
}
const tokens = (s: string): number => tok.encode(s).length;
const words = (n: number): string => Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');

const lines: string[] = [];
const lengths: number[] = [];
for (let i = 0; i < EXAMPLES; i++) {
  const target = targetLength();
  // A short question, and an answer grown word by word to the target (prompt + completion + EOS).
  const prompt = `${words(target < 20 ? 1 : 1 + Math.floor(rnd() * 3))}?\n`;
  let completion = '';
  let n = tokens(prompt) + 1;
  while (n < target) {
    const next = completion ? `${completion} ${words(1)}` : words(1);
    const m = tokens(prompt) + tokens(next) + 1;
    if (m > target && completion && n >= 8) break; // a word at least (an empty completion is refused), 8 tokens at least
    completion = next;
    n = m;
  }
  lines.push(JSON.stringify({ prompt, completion }));
  lengths.push(n);
}
writeFileSync(out, `${lines.join('\n')}\n`);
const sorted = [...lengths].sort((a, b) => a - b);
const under64 = lengths.filter((l) => l < 64).length / lengths.length;
process.stdout.write(`${out}: ${lines.length} examples, tokens ${sorted[0]}..${sorted[sorted.length - 1]}, median ${sorted[sorted.length >> 1]}, ${(under64 * 100).toFixed(0)}% under 64\n`);
