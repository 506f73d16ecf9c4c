// "Continue on a cluster": the studio's run (worker settings and dataset) as a recipe .zip whose data
// is what the worker's run feeds its trainer.
import { readFileSync } from 'node:fs';
import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadModelTokenizer, openDataFile } from '../../cli/prepare';
import { prepareDataset } from '../../data/pipeline';
import { parseAdapterWeights } from '../../engine/lora/adapter';
import { loraLayout } from '../../engine/lora/layout';
import { loadModelSpec } from '../../engine/model/weights';
import { parseSafetensors } from '../../io/safetensors';
import { TrainingPlan } from '../../engine/train/plan';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { nodeFolder } from '../../io/node-files';
import { trainValidationSplit } from '../../worker/dataset';
import type { TrainSettings } from '../../worker/protocol';
import { RECIPE_ZIP_NAME } from './names';
import { studioRecipeZip } from './studio';
import { preparePreferenceDataset } from '../../data/preference';
import { parseRunFlags } from '../../cli/run-flags';
import { planRecipeData, trainLines } from './data';

const MODEL = '../shared/fixtures/reference/tiny-llama/model';
const DATA = 'public/demo/sample.jsonl';

/** The demo sample on tiny-llama, prepared as the worker prepares it, and a 4-step run's settings. */
async function sampleRun(checkpointEvery: number) {
  const tok = await loadModelTokenizer(MODEL);
  const spec = await loadModelSpec(nodeFolder(MODEL));
  // The worker prepares without a max length; the run cuts to settings.maxLength (trainValidationSplit).
  const prepared = await prepareDataset(openDataFile(DATA), tok, { fileName: DATA });
  const settings: TrainSettings = {
    lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false },
    train: { ...DEFAULT_TRAIN, maxSteps: 4, gradAccum: 2, seed: 3 },
    batchSize: 2,
    maxLength: 40,
    checkpointEvery,
    validationExamples: 3,
  };
  return { tok, spec, prepared, settings };
}

describe('studioRecipeZip', () => {
  it("zips the recipe folder whose train.jsonl is the worker run's plan, step by step", async () => {
    const { tok, spec, prepared, settings } = await sampleRun(0);
    const zip = studioRecipeZip({
      settings,
      spec,
      padId: tok.padId,
      prepared,
      source: { name: 'sample.jsonl', bytes: new Uint8Array(readFileSync(DATA)) },
      skipInvalid: false,
      hubId: 'org/tiny',
      modelName: 'org/tiny',
    });
    const files = unzipSync(zip);
    const dir = RECIPE_ZIP_NAME.replace(/\.zip$/, '');
    for (const f of ['train.py', 'recipe.json', 'accelerate.yaml', 'axolotl.yaml', 'README.md', 'adapter_init/adapter_config.json', 'adapter_init/adapter_model.safetensors', 'data/train.jsonl', 'data/validation.jsonl', 'data/sample.jsonl']) {
      expect(files[`${dir}/${f}`], f).toBeDefined();
    }
    // The worker's own split and batcher (as handler.ts's train builds them).
    const { train, validation } = trainValidationSplit(prepared, 40, 3, 3);
    const plan = new TrainingPlan(train, { batchSize: 2, gradAccum: 2, padId: tok.padId, seed: 3, maxSteps: 4, maxLength: 40 });
    const rows = strFromU8(files[`${dir}/data/train.jsonl`]).trim().split('\n').map((l) => JSON.parse(l));
    let i = 0;
    for (let step = 0; step < 4; step++) {
      plan.microBatches(step).micro.forEach((b, micro) => {
        for (let r = 0; r < b.B; r++, i++) {
          const o = r * b.T;
          const n = b.attentionMask.subarray(o, o + b.T).reduce((a, m) => a + m, 0);
          expect([rows[i].step, rows[i].micro]).toEqual([step, micro]);
          expect(rows[i].input_ids).toEqual(Array.from(b.inputIds.subarray(o, o + n)));
          expect(rows[i].labels).toEqual(Array.from(b.labels.subarray(o, o + n)));
        }
      });
    }
    expect(rows.length).toBe(i);
    expect(strFromU8(files[`${dir}/data/validation.jsonl`]).trim().split('\n').length).toBe(validation.length);
    const recipe = JSON.parse(strFromU8(files[`${dir}/recipe.json`]));
    expect(recipe.trainer.max_steps).toBe(4);
    expect(recipe.model.name_or_path).toBe('org/tiny');
    expect(parse(strFromU8(files[`${dir}/axolotl.yaml`])).lora_target_modules).toEqual(['q_proj', 'v_proj']);
  });

  it('a Hub dataset is named in recipe.json (data.hub_dataset) and the README, and no data file is copied', async () => {
    const { tok, spec, prepared, settings } = await sampleRun(0);
    const hub = { id: 'org/chat-data', config: 'default', split: 'train', revision: 'a'.repeat(40) };
    const files = unzipSync(studioRecipeZip({ settings, spec, padId: tok.padId, prepared, source: { hub }, skipInvalid: false, hubId: 'org/tiny', modelName: 'org/tiny' }));
    const dir = RECIPE_ZIP_NAME.replace(/\.zip$/, '');
    const recipe = JSON.parse(strFromU8(files[`${dir}/recipe.json`])) as { data: { source: unknown; hub_dataset: unknown } };
    expect(recipe.data).toMatchObject({ source: null, hub_dataset: hub });
    expect(Object.keys(files).filter((f) => f.startsWith(`${dir}/data/`)).sort()).toEqual([`${dir}/data/train.jsonl`, `${dir}/data/validation.jsonl`]);
    expect(strFromU8(files[`${dir}/README.md`])).toContain(`load_dataset("org/chat-data", "default", split="train", revision="${'a'.repeat(40)}")`);
  });

  it("from Past runs, continues the run's checkpoint: the steps left, its adapter and moments", async () => {
    const { tok, spec, prepared, settings } = await sampleRun(2);
    const n = loraLayout(spec, settings.lora).totalFloats;
    const params = Float32Array.from({ length: n }, (_, i) => i); // a tensor's first value is its offset
    const state = { step: 2, params, m: params.map((x) => x + 0.25), v: params.map((x) => x + 0.5) };
    const inputs = {
      settings, spec, padId: tok.padId, prepared, source: { name: 'sample.jsonl', bytes: new Uint8Array(readFileSync(DATA)) },
      skipInvalid: false, hubId: 'org/tiny', modelName: 'org/tiny',
    };
    const dir = RECIPE_ZIP_NAME.replace(/\.zip$/, '');
    const full = unzipSync(studioRecipeZip(inputs));
    const cont = unzipSync(studioRecipeZip({ ...inputs, fromRun: { from: 'run 1', state } }));
    const rows = (f: Record<string, Uint8Array>) => strFromU8(f[`${dir}/data/train.jsonl`]).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows(cont)).toEqual(rows(full).filter((r) => r.step >= 2));
    expect(rows(cont)[0].step).toBe(2);
    expect(JSON.parse(strFromU8(cont[`${dir}/recipe.json`])).trainer).toMatchObject({ start_step: 2, max_steps: 4 });
    const adapter = parseAdapterWeights(cont[`${dir}/adapter_init/adapter_model.safetensors`]);
    const opt = parseSafetensors('optimizer.safetensors', cont[`${dir}/adapter_init/optimizer.safetensors`]);
    expect(opt.index.tensors.size).toBe(2 * adapter.size);
    for (const [k, t] of adapter) {
      expect(opt.f32(`${k}.exp_avg`), k).toEqual(t.data.map((x) => x + 0.25));
      expect(opt.f32(`${k}.exp_avg_sq`), k).toEqual(t.data.map((x) => x + 0.5));
    }
    expect(full[`${dir}/adapter_init/optimizer.safetensors`]).toBeUndefined();
  });

  it('a preference run: the page (pairs prepared once, cut per run) and cli train feed the same steps', async () => {
    const PAIRS = 'src/data/testdata/preference-pairs.jsonl';
    const tok = await loadModelTokenizer(MODEL);
    const spec = await loadModelSpec(nodeFolder(MODEL));
    const prepared = await preparePreferenceDataset(openDataFile(PAIRS), tok, { fileName: PAIRS });
    const errors: string[] = [];
    const cli = parseRunFlags({ method: 'dpo', beta: '0.3', 'max-length': '48', 'max-prompt-length': '20', 'batch-size': '2', 'grad-accum': '2', seed: '5', 'max-steps': '3' }, new Set(), errors, 'format');
    expect(errors).toEqual([]);
    const settings: TrainSettings = { lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj'], useRslora: false }, train: { ...cli.hyper, maxSteps: 3 }, batchSize: 2, maxLength: 48, maxPromptLength: 20, checkpointEvery: 0, validationExamples: 0 };
    const files = unzipSync(studioRecipeZip({ settings, spec, padId: tok.padId, prepared, source: { name: 'pairs.jsonl', bytes: new Uint8Array(readFileSync(PAIRS)) }, skipInvalid: false, hubId: 'org/tiny', modelName: 'org/tiny' }));
    const dir = RECIPE_ZIP_NAME.replace(/\.zip$/, '');
    const planned = await planRecipeData(openDataFile(PAIRS), PAIRS, tok, { ...cli, train: { ...cli.hyper, maxSteps: 3 }, maxSteps: 3 });
    const page = strFromU8(files[`${dir}/data/train.jsonl`]).trim().split('\n');
    expect(page).toEqual([...trainLines(planned.plan)]);
    expect(page.some((l) => JSON.parse(l).side === 'rejected')).toBe(true);
    const recipe = JSON.parse(strFromU8(files[`${dir}/recipe.json`]));
    expect(JSON.stringify(recipe)).toContain('"dpo"');
  });
});
