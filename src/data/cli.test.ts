// End to end: `npm run --silent cli -- prepare ... --json` on small files in a temp folder.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReference, tokenizerDirFor } from './testdata/fixtures';
import { ALPACA_COLUMNS, alpacaRows, jsonlOf, writeHyparquet, writeParquetjs } from './records/parquet-testing';

const dir = mkdtempSync(join(tmpdir(), 'prepare-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'cli', '--', 'prepare', ...args], {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('prepare CLI', () => {
  it('--json prints the examples (ids, labels) in file order and the stats', () => {
    const ref = loadReference('tiny-llama');
    const file = join(dir, 'chat.jsonl');
    writeFileSync(file, ref.chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n') + '\n');
    const r = cli(['--model', tokenizerDirFor('tiny-llama'), '--data', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { examples: { input_ids: number[]; labels: number[] }[]; stats: Record<string, unknown> };
    expect(r.stdout.trim().split('\n').length).toBe(1);
    expect(out.examples.length).toBe(ref.chat.length);
    [...out.examples].forEach((ex, i) => {
      const c = ref.chat[i];
      expect(ex.input_ids).toEqual(c.ids);
      expect(ex.labels).toEqual(c.ids.map((id, t) => (c.assistant_masks![t] ? id : -100)));
    });
    expect(out.stats).toMatchObject({ examples: 3, skipped: 0, format: 'messages' });
  });

  it('refuses a file with broken lines 3 and 5, listing both on stderr', () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(
      file,
      ['{"text": "one"}', '{"text": "two"}', '{"text": ', '{"text": "four"}', '{"text": 5}', '{"text": "six"}'].join('\n'),
    );
    const r = cli(['--model', tokenizerDirFor('tiny-qwen2'), '--data', file, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^line 3: invalid JSON/m);
    expect(r.stderr).toMatch(/^line 5: field 'text' must be a string, got a number$/m);
    const skipped = cli(['--model', tokenizerDirFor('tiny-qwen2'), '--data', file, '--skip-invalid', '--json', '--max-length', '3']);
    expect(skipped.code).toBe(0);
    const out = JSON.parse(skipped.stdout);
    expect(out.examples.length).toBe(4);
    expect(out.stats).toMatchObject({ skipped: 2, maxLength: 3 });
    expect(out.stats.truncated).toBeGreaterThan(0);
    for (const ex of out.examples) expect(ex.input_ids.length).toBeLessThanOrEqual(3);
  });

  it('--json of a .parquet file (messages, several row groups) equals the same data as .jsonl; a missing mapped column is named', async () => {
    const chats = loadReference('tiny-llama').chat.map((c) => ({ messages: c.messages }));
    const rows = [...chats, ...chats, ...chats];
    writeFileSync(join(dir, 'chat.parquet'), writeHyparquet(rows, { messages: 'turns' }, { rowGroupSize: 2 }));
    writeFileSync(join(dir, 'chat2.jsonl'), jsonlOf(rows));
    const model = tokenizerDirFor('tiny-llama');
    const p = cli(['--model', model, '--data', join(dir, 'chat.parquet'), '--json']);
    const j = cli(['--model', model, '--data', join(dir, 'chat2.jsonl'), '--json']);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const [po, jo] = [JSON.parse(p.stdout), JSON.parse(j.stdout)];
    expect(po.examples.length).toBe(9);
    expect(po.examples).toEqual(jo.examples);
    expect(po.stats).toEqual({ ...jo.stats, fileType: 'parquet' });

    writeFileSync(join(dir, 'alpaca.parquet'), await writeParquetjs(alpacaRows(12), ALPACA_COLUMNS, { codec: 'GZIP', rowGroupSize: 5 }));
    const m = cli(['--model', model, '--data', join(dir, 'alpaca.parquet'), '--map', 'prompt=question,completion=output', '--json']);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/alpaca\.parquet, column 'question': no such column for 'prompt'/);
  }, 240_000);
});
