// `export --format recipe --from-run DIR`: a `cli train` checkpoint (written and read by train's own
// train-state.ts) continued on a cluster: its moments under the names train.py loads, its step and
// the rest of its data order, its settings unless a flag the checkpoint fixes says otherwise.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelTokenizer, openDataFile } from '../../cli/prepare';
import { loadTrainState, saveTrainState, sha256File, type SavedRun } from '../../cli/train-state';
import { prepareDataset } from '../../data/pipeline';
import { splitValidation } from '../../data/sequences';
import { parseAdapterWeights } from '../../engine/lora/adapter';
import { loraLayout } from '../../engine/lora/layout';
import { loadModelSpec } from '../../engine/model/weights';
import { TrainingPlan } from '../../engine/train/plan';
import { parseSafetensors } from '../../io/safetensors';
import { nodeFolder } from '../../io/node-files';
import type { RecipeFiles } from './build';
import { buildRecipe, recipeJob } from './command';
import { parseRecipeArgs, RecipeError } from './settings';

const MODEL = resolve('../shared/fixtures/reference/tiny-llama/model');
const DATA = resolve('public/demo/sample.jsonl');
/** The run's flags as train keeps them in its checkpoint (paths absolute; train-only flags too). */
const RUN = ['--rank', '4', '--alpha', '8', '--batch-size', '3', '--grad-accum', '2', '--epochs', '2.5', '--val-fraction', '0.2', '--max-length', '48', '--seed', '7', '--lr', '0.001', '--schedule', 'linear', '--warmup', '2', '--dropout', '0', '--eval-every', '5', '--checkpoint-every', '5', '--model', MODEL, '--data', DATA];
const STEP = 5;

const text = (files: RecipeFiles, path: string): string => {
  const v = files.get(path);
  if (typeof v !== 'string') throw new Error(`${path} is missing or not text`);
  return v;
};
const bytes = (files: RecipeFiles, path: string): Uint8Array => {
  const v = files.get(path);
  if (!(v instanceof Uint8Array)) throw new Error(`${path} is missing or not binary`);
  return v;
};
const rawBytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const jsonl = (s: string): Array<{ step: number; micro: number; input_ids: number[]; labels: number[] }> => s.trim().split('\n').map((l) => JSON.parse(l));

describe('export --format recipe --from-run', () => {
  let dir: string;
  let run: SavedRun;
  let cont: RecipeFiles;
  let full: RecipeFiles;
  const out = ['--format', 'recipe', '--out', '/nonexistent/out'];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recipe-run-'));
    const spec = await loadModelSpec(nodeFolder(MODEL));
    const n = loraLayout(spec, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }).totalFloats;
    // params[i] = i: an exported tensor's first value is its offset in the checkpoint's flat buffers.
    const params = Float32Array.from({ length: n }, (_, i) => i);
    const m = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-3);
    const v = Float32Array.from({ length: n }, (_, i) => 1e-6 * (1 + Math.cos(i)));
    await saveTrainState(dir, { state: { step: STEP, params, m, v }, args: RUN, dataSha256: await sha256File(DATA) });
    run = await loadTrainState(dir); // train's own reader: what the export must carry
    cont = await buildRecipe(await recipeJob([...out, '--from-run', dir]));
    full = await buildRecipe(parseRecipeArgs([...out, ...RUN.filter((a, i) => !['--eval-every', '--checkpoint-every'].includes(a) && !['--eval-every', '--checkpoint-every'].includes(RUN[i - 1]))]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adapter_init holds the run's adapter and, byte for byte, its AdamW moments under the names train.py loads", () => {
    const adapter = parseAdapterWeights(bytes(cont, 'adapter_init/adapter_model.safetensors'));
    const opt = parseSafetensors('optimizer.safetensors', bytes(cont, 'adapter_init/optimizer.safetensors'));
    const trainPy = text(cont, 'train.py');
    // The moment keys train.py's loader reads, from its own text.
    const keys = /MOMENT_KEYS = \(([^)]*)\)/.exec(trainPy)![1].split(',').map((k) => k.trim().replace(/"/g, '')).filter(Boolean);
    expect(keys).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(trainPy).toContain('f"{key}.{m}"');
    const recipe = JSON.parse(text(cont, 'recipe.json'));
    expect(cont.has(`${recipe.trainer.optimizer_state}`)).toBe(true);
    expect(opt.metadata?.step).toBe(String(STEP));

    const want = [...adapter.keys()].flatMap((k) => keys.map((m) => `${k}.${m}`)).sort();
    expect([...opt.index.tensors.keys()].sort()).toEqual(want);
    let covered = 0;
    for (const [k, t] of adapter) {
      const off = t.data[0];
      expect(t.data, k).toEqual(Float32Array.from({ length: t.data.length }, (_, j) => off + j)); // run.params, unchanged
      expect(rawBytes(opt.f32(`${k}.exp_avg`)).equals(rawBytes(run.state.m.subarray(off, off + t.data.length))), k).toBe(true);
      expect(rawBytes(opt.f32(`${k}.exp_avg_sq`)).equals(rawBytes(run.state.v.subarray(off, off + t.data.length))), k).toBe(true);
      expect(opt.index.tensors.get(`${k}.exp_avg`)!.shape).toEqual(t.shape);
      covered += t.data.length;
    }
    expect(covered).toBeGreaterThan(0.9 * run.state.m.length); // every tensor, not only some (the rest is alignment padding)
  });

  it("continues the plan at the run's step: the data is the full job's steps from there, the schedule the full length", async () => {
    const got = jsonl(text(cont, 'data/train.jsonl'));
    const all = jsonl(text(full, 'data/train.jsonl'));
    expect(got[0].step).toBe(STEP);
    expect(got).toEqual(all.filter((r) => r.step >= STEP));
    const rc = JSON.parse(text(cont, 'recipe.json'));
    const rf = JSON.parse(text(full, 'recipe.json'));
    expect(rc.trainer).toEqual({ ...rf.trainer, start_step: STEP, optimizer_state: 'adapter_init/optimizer.safetensors' });
    expect([rf.trainer.start_step, rf.trainer.optimizer_state]).toEqual([0, null]);
    expect(full.has('adapter_init/optimizer.safetensors')).toBe(false);

    // Step STEP's first row is the studio's plan's (the trainer's path, called here directly).
    const tok = await loadModelTokenizer(MODEL);
    const prepared = await prepareDataset(openDataFile(DATA), tok, { fileName: DATA, maxLength: 48 });
    const { train } = splitValidation([...prepared.examples], 0.2, 7);
    const plan = new TrainingPlan(train, { batchSize: 3, gradAccum: 2, padId: tok.padId, seed: 7, epochs: 2.5, maxLength: 48 });
    expect(rc.trainer.max_steps).toBe(plan.totalSteps);
    const b = plan.microBatches(STEP).micro[0];
    const len = b.attentionMask.subarray(0, b.T).reduce((a, x) => a + x, 0);
    expect(got[0].input_ids).toEqual(Array.from(b.inputIds.subarray(0, len)));
    expect(got.filter((r) => r.step === STEP && r.micro === 0).length).toBe(b.B);
  });

  it("takes the run's settings; a flag may repeat them or change what the checkpoint leaves free", async () => {
    const same = await recipeJob([...out, '--from-run', dir, '--rank', '4', '--seed', '7', '--data', DATA]);
    expect([same.settings.lora.r, same.settings.lora.alpha, same.settings.train.seed, same.settings.train.lr, same.settings.batchSize]).toEqual([4, 8, 7, 0.001, 3]);
    const lower = await recipeJob([...out, '--from-run', dir, '--lr', '0.0005']);
    expect(lower.settings.train.lr).toBe(0.0005);
    expect(lower.fromRun?.state.step).toBe(STEP);
  });

  it('refuses a conflicting flag by name, other data, and a run with no step left', async () => {
    for (const [flags, named] of [
      [['--rank', '8'], /--rank 8 conflicts with --from-run/],
      [['--seed', '8'], /--seed 8 conflicts/],
      [['--batch-size', '2'], /--batch-size 2 conflicts/],
      [['--packing'], /--packing conflicts/],
      [['--targets', 'attention'], /--targets attention conflicts/],
    ] as const) {
      await expect(recipeJob([...out, '--from-run', dir, ...flags])).rejects.toThrow(named);
      await expect(recipeJob([...out, '--from-run', dir, ...flags])).rejects.toBeInstanceOf(RecipeError);
    }
    const other = join(dir, 'other.jsonl');
    copyFileSync(DATA, other);
    const edited = readFileSync(other, 'utf8').split('\n').slice(1).join('\n');
    writeFileSync(other, edited);
    await expect(recipeJob([...out, '--from-run', dir, '--data', other])).rejects.toThrow(/--data .* is not the data of --from-run/);
    await expect(buildRecipe(await recipeJob([...out, '--from-run', dir, '--max-steps', String(STEP)]))).rejects.toThrow(/done 5 of its 5 steps/);
    await expect(recipeJob([...out, '--from-run', join(dir, 'none')])).rejects.toThrow(/^--from-run .*none: no training_state\.safetensors/);
  });
});
