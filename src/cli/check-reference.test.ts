// check-reference's exit code: 1 when a bound of fixtures/README.md is missed. A copy of the
// tiny-llama fixture whose reference initial loss is moved by 1% must be refused naming the bound.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../data/testdata/fixtures';
import { missedBounds, type CheckReferenceResult } from './check-reference';

const dir = mkdtempSync(join(tmpdir(), 'check-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('check-reference exit code', () => {
  it('exits 1 naming the bound when the reference is off by 1%', () => {
    const copy = join(dir, 'tiny-llama');
    cpSync(join(FIXTURES, 'tiny-llama'), copy, { recursive: true });
    const refPath = join(copy, 'reference.json');
    const ref = JSON.parse(readFileSync(refPath, 'utf8')) as { initial_loss: number };
    ref.initial_loss *= 1.01;
    writeFileSync(refPath, JSON.stringify(ref));
    const r = spawnSync('npm', ['run', '--silent', 'cli', '--', 'check-reference', copy], { cwd: process.cwd(), encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^check-reference: tiny-llama: first loss relative error 0\.009\d+ is over its bound 0\.0001$/m);
    const line = JSON.parse(r.stdout.trim().split('\n').pop()!) as { missed: string[] };
    expect(line.missed).toHaveLength(1);
  });

  it('a NaN measure misses its bound; a measure not taken (null) is not judged', () => {
    const r: CheckReferenceResult = {
      fixture: 'x',
      quant: 'none',
      subgroups: false,
      loss: 2,
      logits_max_abs_err: Number.NaN,
      grad_max_rel_err: null,
      grad_worst: null,
      grad_tensors: null,
      step_losses: [2, 1],
      step_loss_max_rel_err: null,
      grad_norms: [],
      grad_norm_max_rel_err: null,
      adapter_max_rel_err: null,
      logits_after_training_max_abs_err: 0.5,
      method: 'sft',
      metrics: null,
      metrics_max_err: null,
      metrics_worst: null,
    };
    expect(missedBounds(r, { initial_loss: 2 })).toEqual(['logits max abs error NaN is over its bound 0.002', 'logits after training max abs error 0.5 is over its bound 0.01']);
  });
});
