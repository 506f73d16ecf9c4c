// `train --method dpo|orpo` end to end on the demo model (SwiftShader): preference pairs from the
// generated file (scripts/make-preference-dataset.ts), TRL's metrics per step, and the errors of
// a method and a file that do not agree or a bad pair.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'train-pref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = 'public/demo';
const pairsFile = join(dir, 'pairs.jsonl');
writeFileSync(pairsFile, readFileSync('src/data/testdata/preference-pairs.jsonl', 'utf8').split('\n').slice(0, 24).join('\n') + '\n');

function train(data: string, args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'cli', '--', 'train', '--model', model, '--data', data, ...args], { cwd: process.cwd(), encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Summary {
  method: string;
  beta: number;
  losses: number[];
  metrics: Array<Record<string, number>>;
}

describe('train --method on preference pairs', () => {
  it('dpo: TRL metrics each step, the margin growing and the loss falling from log 2', () => {
    const r = train(pairsFile, ['--out', join(dir, 'dpo'), '--method', 'dpo', '--beta', '0.1', '--max-steps', '4', '--batch-size', '4', '--max-length', '96', '--lr', '5e-3', '--dropout', '0', '--schedule', 'constant']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect([s.method, s.beta]).toEqual(['dpo', 0.1]);
    expect(s.losses[0]).toBeCloseTo(Math.log(2), 4); // the adapter starts at B = 0: policy = reference
    expect(s.losses[3]).toBeLessThan(s.losses[0]);
    expect(Object.keys(s.metrics[0]).sort()).toEqual(['logps/chosen', 'logps/rejected', 'rewards/accuracies', 'rewards/chosen', 'rewards/margins', 'rewards/rejected']);
    expect(s.metrics[3]['rewards/margins']).toBeGreaterThan(s.metrics[0]['rewards/margins']);
    expect(r.stderr).toMatch(/^step 4\/4 epoch \d+ loss [\d.]+ rewards\/chosen /m);
  });

  it('orpo: the NLL and the odds-ratio terms', () => {
    const r = train(pairsFile, ['--out', join(dir, 'orpo'), '--method', 'orpo', '--max-steps', '2', '--batch-size', '4', '--max-length', '96', '--lr', '5e-3']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.method).toBe('orpo');
    for (const k of ['nll_loss', 'log_odds_ratio', 'log_odds_chosen']) expect(Number.isFinite(s.metrics[0][k]), k).toBe(true);
    // loss = nll - beta * mean log sigmoid(log odds)
    expect(s.losses[0]).toBeCloseTo(s.metrics[0]['nll_loss'] - 0.1 * s.metrics[0]['log_odds_ratio'], 4);
  });

  it('refuses a method the file does not fit, and names a bad pair by line and field', () => {
    const sft = join(dir, 'sft.jsonl');
    writeFileSync(sft, '{"prompt": "a", "completion": "b"}\n');
    expect(train(sft, ['--out', join(dir, 'x'), '--method', 'dpo']).stderr).toMatch(/^train: DPO needs preference data .*, and .*sft\.jsonl has SFT examples: choose --method sft, or give --data a preference file$/m);
    expect(train(pairsFile, ['--out', join(dir, 'y')]).stderr).toMatch(/^train: SFT trains on examples, and .* is preference data .*: choose --method dpo, ipo or orpo, or give --data an SFT file$/m);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", "chosen": "b", "rejected": ""}\n');
    const r = train(bad, ['--out', join(dir, 'z'), '--method', 'dpo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^line 2: field 'rejected' is empty$/m);
  });
});
