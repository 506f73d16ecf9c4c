// End to end: `npm run --silent cli -- train ...` on the tiny-llama fixture model (SwiftShader),
// a fresh adapter and one continued from a PEFT adapter, and the flags it refuses.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../io/node-files';
import { readAdapter } from '../engine/lora/adapter';
import { relL2Err } from '../engine/kernels/random';
import { parseModelConfig } from '../engine/model/config';
import { FIXTURES, loadReference } from '../data/testdata/fixtures';
import { readdirSync, readFileSync } from 'node:fs';
import { zipSync } from 'fflate';

const dir = mkdtempSync(join(tmpdir(), 'train-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(FIXTURES, 'tiny-llama', 'model');
const spec = parseModelConfig(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')));
const data = join(dir, 'chat.jsonl');
writeFileSync(data, loadReference('tiny-llama').chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n') + '\n');

function train(args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'cli', '--', 'train', '--model', model, '--data', data, ...args], {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('train CLI', () => {
  it('trains a fresh adapter and writes it in PEFT format', async () => {
    const out = join(dir, 'fresh');
    const r = train(['--out', out, '--max-steps', '2', '--batch-size', '2', '--rank', '4', '--targets', 'q_proj,v_proj', '--lr', '1e-2', '--dropout', '0']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { steps: number; losses: number[]; out: string };
    expect(summary).toMatchObject({ steps: 2, out });
    expect(summary.losses).toHaveLength(2);
    expect(r.stderr).toMatch(/^step 2\/2 epoch \d+ loss \d/m);
    const got = await readAdapter(nodeFolder(out), spec);
    expect(got.settings).toEqual({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false });
    expect(got.tensors.size).toBe(2 * 2 * spec.numLayers);
  });

  it('--init-adapter continues a PEFT adapter with its own settings', async () => {
    const init = join(FIXTURES, 'tiny-llama', 'adapter_init');
    const before = await readAdapter(nodeFolder(init), spec);
    const out = join(dir, 'continued');
    const r = train(['--out', out, '--init-adapter', init, '--max-steps', '1', '--batch-size', '2', '--lr', '1e-3']);
    expect(r.code, r.stderr).toBe(0);
    const after = await readAdapter(nodeFolder(out), spec);
    expect(after.settings).toEqual(before.settings);
    // One small step from the given tensors: close to them (a fresh init has B = 0, far from the
    // fixture's B ~ N(0, 0.05)), yet moved.
    for (const [key, t] of before.tensors) {
      const err = relL2Err(after.tensors.get(key)!.data, t.data);
      expect(err, key).toBeLessThan(0.05);
      expect(err, key).toBeGreaterThan(0);
    }
  });

  it('--init-adapter also takes a .zip (deflated, the adapter in a folder)', async () => {
    const init = join(FIXTURES, 'tiny-llama', 'adapter_init');
    const zip = join(dir, 'from-zip.zip');
    const file = (f: string): Uint8Array => new Uint8Array(readFileSync(join(init, f)));
    writeFileSync(zip, zipSync({ 'adapter_init/adapter_config.json': file('adapter_config.json'), 'adapter_init/adapter_model.safetensors': file('adapter_model.safetensors') }, { level: 6 }));
    const out = join(dir, 'continued-zip');
    const r = train(['--out', out, '--init-adapter', zip, '--max-steps', '1', '--batch-size', '2', '--lr', '1e-3']);
    expect(r.code, r.stderr).toBe(0);
    const before = await readAdapter(nodeFolder(init), spec);
    const after = await readAdapter(nodeFolder(out), spec);
    expect(after.settings).toEqual(before.settings);
    for (const [key, t] of before.tensors) expect(relL2Err(after.tensors.get(key)!.data, t.data), key).toBeLessThan(0.05);
    const empty = join(dir, 'empty.zip');
    writeFileSync(empty, zipSync({ 'README.md': new TextEncoder().encode('#') }));
    const refused = train(['--out', join(dir, 'never'), '--init-adapter', empty]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`train: --init-adapter ${empty} holds no adapter_config.json and adapter_model.safetensors`);
  });

  it('refuses what it cannot honour, naming the flag or the file', () => {
    const init = join(FIXTURES, 'tiny-llama', 'adapter_init');
    const out = join(dir, 'never');
    const conflict = train(['--out', out, '--init-adapter', init, '--rank', '8']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain("train: --rank cannot be combined with --init-adapter: the adapter's own setting is used");
    const typo = train(['--out', out, '--epoch', '2']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/train: --epoch is not an option here \(options: .*--epochs/);
    expect(typo.stderr).toContain('train: unexpected argument "2"');
    // tiny-qwen3's adapter (r 8, head_dim 32) does not fit tiny-llama
    const misfit = train(['--out', out, '--init-adapter', join(FIXTURES, 'tiny-qwen3', 'adapter_init')]);
    expect(misfit.code).toBe(1);
    expect(misfit.stderr).toMatch(/^train: --init-adapter .*adapter_model.safetensors: (missing tensor|tensor) "base_model.model.model.layers.0/m);
  });
});

describe('train CLI: output, divergence, resume', () => {
  const small = ['--batch-size', '2', '--rank', '4', '--targets', 'q_proj,v_proj'];
  const files = (out: string) => ['adapter_config.json', 'adapter_model.safetensors'].map((f) => readFileSync(join(out, f)));

  it('refuses an --out that cannot take files before loading anything', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const onFile = train(['--out', file, '--max-steps', '1']);
    expect(onFile.code).toBe(1);
    expect(onFile.stderr).toMatch(/^train: --out .*a-file: exists as a file, not a folder$/m);
    const proc = train(['--out', '/proc/self/lora-out', '--max-steps', '1']);
    expect(proc.code).toBe(1);
    expect(proc.stderr).toContain('train: --out /proc/self/lora-out: is in a kernel pseudo-filesystem');
    expect(proc.stdout).toBe('');
  });

  it('--lr 1e6 is stopped by the divergence guard at step 1, exit 1, and the good adapter already in --out is kept', () => {
    const out = join(dir, 'keep');
    const good = train(['--out', out, '--max-steps', '1', ...small, '--lr', '1e-3']);
    expect(good.code, good.stderr).toBe(0);
    const before = files(out);
    const bad = train(['--out', out, '--max-steps', '3', ...small, '--lr', '1e6']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^train: training diverged at step 1: .*beyond 1e\+4.*lower the learning rate .*clipping/m);
    expect(bad.stdout).toBe('');
    const after = files(out);
    expect(after[0].equals(before[0]) && after[1].equals(before[1]), 'adapter files unchanged').toBe(true);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 600_000);

  it('--stop-after 2 then --resume gives the losses of an uninterrupted 4-step run', () => {
    const args = ['--max-steps', '4', ...small, '--lr', '1e-2', '--dropout', '0.1', '--schedule', 'cosine'];
    const straight = train(['--out', join(dir, 'straight'), ...args]);
    expect(straight.code, straight.stderr).toBe(0);
    const want = (JSON.parse(straight.stdout) as { losses: number[] }).losses;
    expect(want).toHaveLength(4);
    const out = join(dir, 'halves');
    const first = train(['--out', out, ...args, '--stop-after', '2']);
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as { end: string; steps: number; losses: number[] };
    expect(a).toMatchObject({ end: 'stopped', steps: 2 });
    expect(existsSync(join(out, 'training_state.safetensors'))).toBe(true);
    const second = spawnSync('npm', ['run', '--silent', 'cli', '--', 'train', '--resume', out], { cwd: process.cwd(), encoding: 'utf8', timeout: 300_000 });
    expect(second.status, second.stderr).toBe(0);
    const b = JSON.parse(second.stdout) as { end: string; start_step: number; steps: number; losses: number[] };
    expect(b).toMatchObject({ end: 'finished', start_step: 2, steps: 4 });
    const got = [...a.losses, ...b.losses];
    expect(got).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(Math.abs(got[i] - want[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-6 * Math.abs(want[i]));
  }, 600_000);
});
