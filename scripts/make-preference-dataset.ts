// Writes src/data/testdata/preference-pairs.jsonl: 240 preference pairs in TRL's standard form
// {"prompt", "chosen", "rejected"} for `train --method dpo|ipo|orpo` on the demo model (public/demo).
// Deterministic: the same file every run.
//   npx vite-node scripts/make-preference-dataset.ts
// The prompts vary in length (1 to 60 words: the batches' prompts are cut and padded differently);
// the chosen answers are drawn from one set of words and the rejected ones from another, a
// preference a tiny random model can learn within a few dozen steps (its rewards/accuracies rise).
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/util/prng';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src', 'data', 'testdata', 'preference-pairs.jsonl');
const PAIRS = 240;
const PROMPT = 'the a of to in is was for on with as by at from it this that are be or an river stone window morning city question'.split(' ');
const GOOD = 'light garden music paper green blue north learn build write read open'.split(' ');
const BAD = 'slow small south close large quick dark cold broken lost empty late'.split(' ');

const rnd = mulberry32(2027);
const pick = (list: string[], n: number): string => Array.from({ length: n }, () => list[Math.floor(rnd() * list.length)]).join(' ');

const lines: string[] = [];
for (let i = 0; i < PAIRS; i++) {
  const u = rnd();
  const promptWords = u < 0.6 ? 1 + Math.floor(rnd() * 8) : u < 0.9 ? 8 + Math.floor(rnd() * 24) : 32 + Math.floor(rnd() * 29);
  const prompt = `${pick(PROMPT, promptWords)}?\n`;
  const answer = 2 + Math.floor(rnd() * 6);
  lines.push(JSON.stringify({ prompt, chosen: pick(GOOD, answer), rejected: pick(BAD, answer) }));
}
writeFileSync(out, `${lines.join('\n')}\n`);
process.stdout.write(`${out}: ${PAIRS} pairs\n`);
