// `--data hub:…` for prepare and export --format recipe against the stand-in Hub (the commands run as
// `npm run cli`, with their cache in a temp folder): the same examples as the same rows given as a
// local jsonl file; a gated dataset without a token is named and nothing is cached; the recipe names
// the dataset (id, config, split, commit) instead of copying it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInHub, type StandInHub } from '../hub/stand-in-server-testing';
import { standInDatasetSha } from '../hub/stand-in-datasets-testing';
import { ALPACA_ROWS, jsonlOf, QA_ROWS, standInDatasets } from '../hub/stand-in-datasets-data-testing';
import { TRAIN_STATE_FILE } from './train-state';

const MODEL = 'public/demo';
const dir = mkdtempSync(join(tmpdir(), 'hub-data-cli-'));
const cache = join(dir, 'cache');
let hub: StandInHub;

beforeAll(async () => {
  hub = await startStandInHub({ models: {}, datasets: standInDatasets() });
});
afterAll(async () => {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI in a child process; async, so the stand-in Hub in this process can answer it. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('npm', ['run', '--silent', 'cli', '--', ...args], { cwd: process.cwd(), env: { ...process.env, LORA_STUDIO_CACHE: cache, HF_TOKEN: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('--data hub:ID[@REVISION][:CONFIG][/SPLIT]', () => {
  it('prepare reads a Parquet-converted split exactly as the same rows from a jsonl file', async () => {
    const local = join(dir, 'qa.jsonl');
    writeFileSync(local, jsonlOf(QA_ROWS.slice(0, 20)));
    const map = ['--map', 'prompt=question,completion=answer', '--json'];
    const [fromHub, fromFile] = await Promise.all([
      cli(['prepare', '--model', MODEL, '--data', 'hub:studio/qa-pairs/train', '--hub-endpoint', hub.url, ...map]),
      cli(['prepare', '--model', MODEL, '--data', local, ...map]),
    ]);
    expect(fromFile.code).toBe(0);
    expect(fromHub.code).toBe(0);
    const ex = (s: string) => (JSON.parse(s) as { examples: unknown[] }).examples;
    expect(ex(fromHub.stdout)).toHaveLength(20);
    expect(ex(fromHub.stdout)).toEqual(ex(fromFile.stdout));
    expect(existsSync(join(cache, 'datasets', 'studio', 'qa-pairs', standInDatasetSha('studio/qa-pairs'), 'parquet', 'default', 'train', '0.parquet'))).toBe(true);
  });

  it('a gated dataset without HF_TOKEN is named, and nothing is stored', async () => {
    const r = await cli(['prepare', '--model', MODEL, '--data', 'hub:studio/gated-qa', '--json'], { HF_ENDPOINT: hub.url });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^prepare: Dataset studio\/gated-qa is gated: .*Nothing was downloaded\.$/m);
    expect(existsSync(join(cache, 'datasets', 'studio', 'gated-qa'))).toBe(false);
  });

  it('a config that does not exist is named with the ones that do', async () => {
    const r = await cli(['prepare', '--model', MODEL, '--data', 'hub:studio/qa-pairs:big', '--hub-endpoint', hub.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^prepare: Dataset studio\/qa-pairs has no config "big"; it has default, tiny$/m);
  });

  it('export --format recipe names the dataset (id, config, split, commit) and copies no data file', async () => {
    const out = join(dir, 'recipe');
    const r = await cli(['export', '--format', 'recipe', '--model', MODEL, '--data', 'hub:studio/alpaca-jsonl', '--hub-endpoint', hub.url, '--out', out, '--max-steps', '2']);
    expect(r.stderr.split('\n').filter((l) => /^export|error/i.test(l) && !/ of /.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const recipe = JSON.parse(readFileSync(join(out, 'recipe.json'), 'utf8')) as { data: { source: unknown; hub_dataset: unknown; train_examples: number } };
    const sha = standInDatasetSha('studio/alpaca-jsonl');
    expect(recipe.data.hub_dataset).toEqual({ id: 'studio/alpaca-jsonl', config: 'default', split: 'train', revision: sha });
    expect(recipe.data.source).toBeNull();
    // Both files of the train split (6 + 4 rows), the test split's 2 rows left out.
    expect(recipe.data.train_examples).toBe(ALPACA_ROWS.slice(0, 10).length);
    expect(readdirSync(join(out, 'data')).sort()).toEqual(['train.jsonl', 'validation.jsonl']);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain(`load_dataset("studio/alpaca-jsonl", "default", split="train", revision="${sha}")`);
  });

  it('train takes the same reference: 2 steps on a Hub split of two jsonl files; the run keeps `hub:…` (not a path) for --resume', async () => {
    const out = join(dir, 'run');
    const r = await cli(['train', '--model', MODEL, '--data', 'hub:studio/alpaca-jsonl', '--hub-endpoint', hub.url, '--out', out, '--max-steps', '2', '--batch-size', '2', '--rank', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^step 2\/2 /m);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
    const state = readFileSync(join(out, TRAIN_STATE_FILE));
    const header = state.subarray(8, 8 + Number(state.readBigUInt64LE(0))).toString();
    const args = JSON.parse((JSON.parse(header) as { __metadata__: { args: string } }).__metadata__.args) as string[];
    expect(args[args.indexOf('--data') + 1]).toBe('hub:studio/alpaca-jsonl');
  });
});
