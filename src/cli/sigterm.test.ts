// SIGTERM stops the CLI promptly: prepare at once, even inside a long synchronous tokenization (its
// default action; vite's SIGTERM listener, which waits for the event loop, is removed), and train
// after the step it is in, with its checkpoint written (as on Ctrl-C). The bound is generous (the
// machine is shared): without the fix prepare runs its whole input, tens of seconds, first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, loadReference } from '../data/testdata/fixtures';
import { TRAIN_STATE_FILE } from './train-state';

const dir = mkdtempSync(join(tmpdir(), 'sigterm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(FIXTURES, 'tiny-llama', 'model');
const STOP_BOUND_MS = 10_000;

/**
 * Runs the CLI (the node process itself, as `npm run cli` starts it), sends SIGTERM once `ready`
 * matches its stderr, and resolves with how it ended and how long after the signal.
 */
function termWhen(args: string[], ready: RegExp): Promise<{ code: number | null; signal: string | null; ms: number; stderr: string }> {
  const child = spawn(process.execPath, ['node_modules/vite-node/dist/cli.mjs', '-c', 'src/cli/vite.config.ts', 'src/cli/main.ts', '--', ...args], { cwd: process.cwd() });
  let stderr = '';
  let sent = 0;
  return new Promise((done) => {
    const send = () => {
      if (sent) return;
      sent = performance.now();
      child.kill('SIGTERM');
    };
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (ready.test(stderr)) send();
    });
    child.on('exit', (code, signal) => done({ code, signal, ms: sent ? performance.now() - sent : -1, stderr }));
  });
}

describe('SIGTERM', () => {
  it('stops prepare inside the tokenization of one huge record', async () => {
    const data = join(dir, 'huge.jsonl');
    // Records of ~2.3 M characters without spaces: each a single pre-tokenized piece of many merges
    // whose BPE is one synchronous call of several seconds (prepare prints nothing before it ends);
    // four of them keep prepare tokenizing well past the startup wait below on a fast machine too.
    const piece = 'thequickbrownfoxjumpsoverthelazydogand';
    const record = `${JSON.stringify({ text: piece.repeat(Math.floor(2_300_000 / piece.length)) })}\n`;
    writeFileSync(data, record.repeat(4));
    const child = spawn(process.execPath, ['node_modules/vite-node/dist/cli.mjs', '-c', 'src/cli/vite.config.ts', 'src/cli/main.ts', '--', 'prepare', '--model', model, '--data', data], { cwd: process.cwd() });
    const ended = new Promise<{ signal: string | null; at: number }>((done) => child.on('exit', (_c, signal) => done({ signal, at: performance.now() })));
    // Startup (vite-node, the tokenizer) takes a few seconds here; the record's BPE far longer.
    await new Promise((r) => setTimeout(r, 8000));
    const sent = performance.now();
    child.kill('SIGTERM');
    const { signal, at } = await ended;
    expect(signal).toBe('SIGTERM');
    expect(at - sent).toBeLessThan(STOP_BOUND_MS);
  }, 120_000);

  it('stops train after its current step, with the checkpoint written', async () => {
    const data = join(dir, 'chat.jsonl');
    writeFileSync(data, loadReference('tiny-llama').chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n') + '\n');
    const out = join(dir, 'run');
    const r = await termWhen(['train', '--model', model, '--data', data, '--out', out, '--max-steps', '10000', '--batch-size', '1', '--rank', '2', '--targets', 'q_proj', '--checkpoint-every', '100000'], /^step 1\//m);
    expect(r.ms, r.stderr).toBeGreaterThanOrEqual(0);
    expect(r.ms, r.stderr).toBeLessThan(STOP_BOUND_MS);
    expect(existsSync(join(out, TRAIN_STATE_FILE)), r.stderr).toBe(true);
  }, 300_000);
});
