// `train --resume` checks what its checkpoint fixes before the GPU is touched: the settings
// (rank, alpha, targets, seed, batch size…) by flag, and the base model by its fingerprint
// (config.json and samples of every tensor), naming the flag or what differs in the model.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, loadReference } from '../data/testdata/fixtures';
import { fingerprintDifference, loadTrainState, modelFingerprint } from './train-state';

const dir = mkdtempSync(join(tmpdir(), 'resume-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(FIXTURES, 'tiny-llama', 'model');
const data = join(dir, 'chat.jsonl');
writeFileSync(data, loadReference('tiny-llama').chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n') + '\n');

/** A copy of the tiny model with one float of `tensor` changed (same shapes, other weights). */
function otherWeights(tensor: string): string {
  const out = mkdtempSync(join(dir, 'model-'));
  for (const f of readdirSync(model)) copyFileSync(join(model, f), join(out, f));
  const b = readFileSync(join(out, 'model.safetensors'));
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
  const at = 8 + n + h[tensor].data_offsets[0];
  b.writeFloatLE(b.readFloatLE(at) + 0.5, at);
  writeFileSync(join(out, 'model.safetensors'), b);
  return out;
}

function cli(args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'cli', '--', 'train', ...args], { cwd: process.cwd(), encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('model fingerprint', () => {
  it('tells a same-shaped model with other weights apart, naming the tensor, and a changed config', async () => {
    const fp = await modelFingerprint(model);
    expect(fingerprintDifference(fp, await modelFingerprint(model))).toBeNull();
    const other = otherWeights('model.layers.1.self_attn.v_proj.weight');
    expect(fingerprintDifference(fp, await modelFingerprint(other))).toBe('its tensor "model.layers.1.self_attn.v_proj.weight" differs');
    const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, rms_norm_eps: 1e-3 }));
    expect(fingerprintDifference(fp, await modelFingerprint(other))).toBe('its config.json differs');
  });
});

describe('train --resume', () => {
  const out = join(dir, 'run');
  const first = cli(['--model', model, '--data', data, '--out', out, '--max-steps', '2', '--batch-size', '1', '--rank', '4', '--targets', 'q_proj', '--stop-after', '1']);

  it('the checkpoint keeps the model fingerprint', async () => {
    expect(first.code, first.stderr).toBe(0);
    expect((await loadTrainState(out)).model).toEqual(await modelFingerprint(model));
  });

  it.each([
    [['--rank', '8'], '--rank 8 differs from --resume'],
    [['--alpha', '3'], '--alpha 3 differs from --resume'],
    [['--targets', 'v_proj'], '--targets v_proj differs from --resume'],
    [['--batch-size', '2'], '--batch-size 2 differs from --resume'],
    [['--seed', '7'], '--seed 7 differs from --resume'],
  ])('%s is refused by name before the GPU', (flags, msg) => {
    const r = cli(['--resume', out, ...flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`train: ${msg} ${out}: the checkpoint was trained with`);
    expect(r.stderr).not.toMatch(/GpuError|step \d/);
  });

  it('another model of the same shapes is refused naming --model and the tensor', () => {
    const other = otherWeights('model.layers.0.mlp.up_proj.weight');
    const r = cli(['--resume', out, '--model', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`train: --model ${other} is not the model --resume ${out} was trained on: its tensor "model.layers.0.mlp.up_proj.weight" differs`);
  });
});
