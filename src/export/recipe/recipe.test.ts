// The recipe export against the trainer's own data plan, Python's compiler, a YAML parser and the
// settings it must carry.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadModelTokenizer, openDataFile } from '../../cli/prepare';
import { prepareDataset } from '../../data/pipeline';
import { packBatch, splitValidation } from '../../data/sequences';
import { initLoraTensors, parseAdapterWeights } from '../../engine/lora/adapter';
import { loadModelSpec } from '../../engine/model/weights';
import { TrainingPlan } from '../../engine/train/plan';
import type { Batch, TrainHyper } from '../../engine/train/types';
import { nodeFolder } from '../../io/node-files';
import type { TrainSettings } from '../../worker/protocol';
import { recipeFiles, type RecipeFiles } from './build';
import { buildRecipe } from './command';
import { batchRows, planRecipeData } from './data';
import { writeRecipeFolder } from './folder';
import { allMappings, STUDIO_SETTINGS } from './mapping';
import { parseRecipeArgs, RecipeError, type RecipeJob } from './settings';

const MODEL = '../shared/fixtures/reference/tiny-llama/model';
const DATA = 'public/demo/sample.jsonl';
const ARGS = ['--format', 'recipe', '--model', MODEL, '--data', DATA, '--out', '/nonexistent/out', '--rank', '4', '--alpha', '8', '--batch-size', '3', '--grad-accum', '2', '--epochs', '2.5', '--val-fraction', '0.2', '--max-length', '48', '--seed', '7', '--lr', '0.001', '--schedule', 'linear', '--warmup', '2', '--weight-decay', '0.01', '--max-grad-norm', '0.5', '--dropout', '0', '--hub-id', 'org/tiny', '--revision', 'r1'];

const text = (files: RecipeFiles, path: string): string => {
  const v = files.get(path);
  if (typeof v !== 'string') throw new Error(`${path} is missing or not text`);
  return v;
};
const jsonl = (s: string): Array<Record<string, number[] & number>> => s.trim().split('\n').map((l) => JSON.parse(l));

/** Row r of a padded batch: its unpadded ids and labels, and checks that the rest is padding. */
function row(b: Batch, r: number, padId: number): { ids: number[]; labels: number[] } {
  const o = r * b.T;
  const n = b.attentionMask.subarray(o, o + b.T).reduce((a, m) => a + m, 0);
  for (let t = n; t < b.T; t++) {
    expect([b.inputIds[o + t], b.attentionMask[o + t], b.labels[o + t]]).toEqual([padId, 0, -100]);
  }
  return { ids: Array.from(b.inputIds.subarray(o, o + n)), labels: Array.from(b.labels.subarray(o, o + n)) };
}

describe('export --format recipe', () => {
  let job: RecipeJob;
  let files: RecipeFiles;
  beforeAll(async () => {
    job = parseRecipeArgs(ARGS);
    files = await buildRecipe(job);
  });

  it("data/*.jsonl are, id for id and label for label, the batches the trainer's plan feeds for these settings", async () => {
    // The trainer's path, called here directly (as src/cli/train.ts does), not through the export.
    const tok = await loadModelTokenizer(MODEL);
    const prepared = await prepareDataset(openDataFile(DATA), tok, { fileName: DATA, maxLength: 48 });
    const { train, validation } = splitValidation([...prepared.examples], 0.2, 7);
    const plan = new TrainingPlan(train, { batchSize: 3, gradAccum: 2, padId: tok.padId, seed: 7, epochs: 2.5, maxLength: 48 });
    expect(plan.totalSteps).toBeGreaterThan(plan.stepsPerEpoch * 2); // the half epoch is there

    const got = jsonl(text(files, 'data/train.jsonl'));
    let i = 0;
    for (let step = 0; step < plan.totalSteps; step++) {
      plan.microBatches(step).micro.forEach((b, micro) => {
        for (let r = 0; r < b.B; r++) {
          const want = row(b, r, tok.padId);
          expect({ step: got[i].step, micro: got[i].micro }).toEqual({ step, micro });
          expect(got[i].input_ids).toEqual(want.ids);
          expect(got[i].labels).toEqual(want.labels);
          i++;
        }
      });
    }
    expect(got.length).toBe(i);
    // Labels are the token itself or -100, and some are trained.
    for (const g of got) g.labels.forEach((y: number, t: number) => expect(y === -100 || y === g.input_ids[t]).toBe(true));
    expect(got.some((g) => g.labels.some((y: number) => y !== -100))).toBe(true);

    const val = jsonl(text(files, 'data/validation.jsonl'));
    expect(validation.length).toBeGreaterThan(0);
    let j = 0;
    plan.batchesOf(validation).forEach((b, batch) => {
      for (let r = 0; r < b.B; r++) {
        const want = row(b, r, tok.padId);
        expect([val[j].batch, val[j].input_ids, val[j].labels]).toEqual([batch, want.ids, want.labels]);
        j++;
      }
    });
    expect(val.length).toBe(j);
    expect(files.get('data/sample.jsonl')).toEqual(new Uint8Array(readFileSync(DATA)));
  });

  it('train.py compiles with python3', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recipe-py-'));
    try {
      writeFileSync(join(dir, 'train.py'), text(files, 'train.py'));
      const r = spawnSync('python3', ['-m', 'py_compile', join(dir, 'train.py')], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accelerate.yaml and axolotl.yaml parse, with the settings', () => {
    const acc = parse(text(files, 'accelerate.yaml'));
    expect(acc.distributed_type).toBe('MULTI_GPU');
    expect(acc.mixed_precision).toBe('no');
    const ax = parse(text(files, 'axolotl.yaml'));
    expect(ax).toMatchObject({
      base_model: 'org/tiny', adapter: 'lora', lora_model_dir: './adapter_init', lora_r: 4, lora_alpha: 8, lora_dropout: 0,
      micro_batch_size: 3, gradient_accumulation_steps: 2, learning_rate: 0.001, lr_scheduler: 'linear', warmup_steps: 2,
      weight_decay: 0.01, max_grad_norm: 0.5, seed: 7, sequence_len: 48, sample_packing: false,
    });
  });

  it('names the LoRA targets as the model family does: Phi-3 fuses q/k/v and gate/up (qkv_proj, gate_up_proj), Gemma 3 keeps the seven', async () => {
    for (const [fixture, want] of [
      ['tiny-phi3', ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']],
      ['tiny-gemma3', ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']],
    ] as const) {
      const model = `../shared/fixtures/reference/${fixture}/model`;
      const args = ARGS.map((a, i) => (ARGS[i - 1] === '--model' ? model : a));
      const got = await buildRecipe(parseRecipeArgs([...args, '--targets', 'all']));
      expect(JSON.parse(text(got, 'recipe.json')).lora.target_modules, fixture).toEqual(want);
      expect(parse(text(got, 'axolotl.yaml')).lora_target_modules, fixture).toEqual(want);
      const adapter = JSON.parse(text(got, 'adapter_init/adapter_config.json'));
      expect([...adapter.target_modules].sort(), fixture).toEqual([...want].sort());
      // adapter_init's tensors are PEFT's for those modules (one pair over a fused module's output).
      const tensors = parseAdapterWeights(got.get('adapter_init/adapter_model.safetensors') as Uint8Array);
      const modules = new Set([...tensors.keys()].map((k) => /\.(\w+_proj)\.lora_[AB]\.weight$/.exec(k)![1]));
      expect([...modules].sort(), fixture).toEqual([...want].sort());
    }
  });

  it("adapter_init holds the trainer's initial adapter for the seed, or the --init-adapter one", async () => {
    const spec = await loadModelSpec(nodeFolder(MODEL));
    const fresh = parseAdapterWeights(files.get('adapter_init/adapter_model.safetensors') as Uint8Array);
    // Trainer.create starts from initLoraTensors(spec, lora, seed) when no adapter is given.
    const init = initLoraTensors(spec, job.settings.lora, 7);
    expect([...fresh.keys()].sort()).toEqual([...init.keys()].sort());
    for (const [k, t] of init) expect(fresh.get(k)!.data, k).toEqual(t.data);

    const dir = '../shared/fixtures/reference/tiny-llama/adapter_init';
    const cut = ['--rank', '--alpha', '--dropout'];
    const args = ARGS.filter((a, i) => !cut.includes(a) && !cut.includes(ARGS[i - 1]));
    const cont = await buildRecipe(parseRecipeArgs([...args, '--init-adapter', dir, '--dropout', '0.1']));
    const got = parseAdapterWeights(cont.get('adapter_init/adapter_model.safetensors') as Uint8Array);
    const want = parseAdapterWeights(new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors'))));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, t] of want) expect(got.get(k)!.data, k).toEqual(t.data);
    const cfg = JSON.parse(text(cont, 'adapter_init/adapter_config.json'));
    const src = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect([cfg.r, cfg.lora_alpha, cfg.lora_dropout]).toEqual([src.r, src.lora_alpha, 0.1]); // --dropout over the adapter's
    expect(JSON.parse(text(cont, 'recipe.json')).lora.r).toBe(src.r);
  });

  it('refuses bad input by flag, and an existing --out without touching it', async () => {
    expect(() => parseRecipeArgs(['--model', 'm', '--data', 'd', '--out', 'o', '--rank', '0', '--schedule', 'steep', '--bogus', '1'])).toThrow(RecipeError);
    try {
      parseRecipeArgs(['--model', 'm', '--data', 'd', '--out', 'o', '--rank', '0', '--schedule', 'steep', '--init-adapter', 'a', '--revision', 'x']);
    } catch (e) {
      const m = (e as Error).message;
      for (const f of ['--rank 0', '--schedule steep', '--rank cannot be combined with --init-adapter', '--revision needs --hub-id']) expect(m).toContain(f);
    }
    const dir = mkdtempSync(join(tmpdir(), 'recipe-out-'));
    try {
      writeFileSync(join(dir, 'keep.txt'), 'mine');
      await expect(writeRecipeFolder(dir, files)).rejects.toThrow(/already exists/);
      expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
      await writeRecipeFolder(join(dir, 'job'), files);
      expect(readFileSync(join(dir, 'job', 'train.py'), 'utf8')).toBe(text(files, 'train.py'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('settings table', () => {
  // Every setting set away from its default, patterns and layers included.
  const settings = (): RecipeJob['settings'] => {
    const j = parseRecipeArgs(ARGS).settings;
    j.lora = { ...j.lora, useRslora: true, targetModules: ['v_proj', 'q_proj', 'down_proj'], rankPattern: { q_proj: 6 }, alphaPattern: { 'model.layers.1.mlp.down_proj': 3 }, layersToTransform: [1] };
    j.train = { ...j.train, beta1: 0.8, beta2: 0.95, eps: 1e-6, checkpointing: true };
    return j;
  };

  it('maps every studio setting to the value recipe.json, adapter_init and train.py carry', async () => {
    const job = { ...parseRecipeArgs(ARGS), settings: settings() };
    const s = job.settings;
    const spec = await loadModelSpec(nodeFolder(MODEL));
    const tok = await loadModelTokenizer(MODEL);
    const planned = await planRecipeData(openDataFile(DATA), DATA, tok, s);
    const files = recipeFiles({ job, spec, planned, padId: tok.padId, source: { name: 'sample.jsonl', bytes: new Uint8Array(1) } });
    const recipe = JSON.parse(text(files, 'recipe.json'));
    const adapter = JSON.parse(text(files, 'adapter_init/adapter_config.json'));
    const py = text(files, 'train.py');
    const at = (path: string) => path.split('.').reduce((o: Record<string, unknown>, k) => o[k] as Record<string, unknown>, recipe) as unknown;

    // What each setting must read as, written out here (not taken from the mapping).
    const expected: Record<string, unknown> = {
      'lora.r': 4, 'lora.alpha': 8, 'lora.dropout': 0, 'lora.targetModules': ['q_proj', 'v_proj', 'down_proj'], 'lora.useRslora': true,
      'lora.rankPattern': { q_proj: 6 }, 'lora.alphaPattern': { 'model.layers.1.mlp.down_proj': 3 }, 'lora.layersToTransform': [1],
      'train.lr': 0.001, 'train.schedule': 'linear', 'train.warmupSteps': 2, 'train.maxSteps': planned.plan.totalSteps, 'train.gradAccum': 2,
      'train.beta1': 0.8, 'train.beta2': 0.95, 'train.eps': 1e-6, 'train.weightDecay': 0.01, 'train.maxGradNorm': 0.5, 'train.seed': 7,
      'train.checkpointing': true, 'train.method': 'sft', 'train.beta': 0.1,
      batchSize: 3, maxLength: 48, maxPromptLength: null, maxSteps: null, epochs: 2.5, valFraction: 0.2, format: 'auto', skipInvalid: false, packing: false,
    };
    // PEFT's names in adapter_init/adapter_config.json, which train.py loads the adapter from.
    const peft: Record<string, string> = {
      'lora.r': 'r', 'lora.alpha': 'lora_alpha', 'lora.dropout': 'lora_dropout', 'lora.targetModules': 'target_modules', 'lora.useRslora': 'use_rslora',
      'lora.rankPattern': 'rank_pattern', 'lora.alphaPattern': 'alpha_pattern', 'lora.layersToTransform': 'layers_to_transform',
    };
    // Every field of the settings type, found at run time: a new one without a mapping fails here.
    const studioKeys = [
      ...Object.keys(s.lora).map((k) => `lora.${k}`),
      ...Object.keys(s.train).map((k) => `train.${k}`),
      ...Object.keys(s).filter((k) => k !== 'lora' && k !== 'train'),
    ];
    const mapped = new Map(allMappings());
    expect(studioKeys.sort()).toEqual(Object.keys(expected).sort());
    const readmeText = text(files, 'README.md');
    for (const key of studioKeys) {
      const m = mapped.get(key);
      expect(m, `no mapping for ${key}`).toBeDefined();
      expect(at(m!.recipe!), key).toEqual(expected[key]);
      expect(m!.value(s), key).toEqual(expected[key]);
      expect(readmeText).toContain(`| ${key} | `);
      if (peft[key]) expect(adapter[peft[key]], key).toEqual(expected[key]);
      // train.py reads each trainer value from recipe.json by its name.
      if (m!.recipe!.startsWith('trainer.') && key !== 'train.gradAccum') expect(py, key).toContain(`t["${m!.recipe!.slice('trainer.'.length)}"]`);
    }
    expect(recipe.model).toEqual({ name_or_path: 'org/tiny', revision: 'r1', dtype: 'float32' });
    expect([adapter.base_model_name_or_path, adapter.revision]).toEqual(['org/tiny', 'r1']);
  });

  it("names where every field of the studio's TrainSettings goes", () => {
    const train: TrainHyper = { ...settings().train };
    const studio: Required<TrainSettings> = { lora: settings().lora, startAdapter: 'a', train, batchSize: 1, maxLength: 2, maxPromptLength: 1, packing: true, checkpointEvery: 3, validationExamples: 4 };
    for (const k of Object.keys(studio)) expect(STUDIO_SETTINGS[k as keyof TrainSettings], k).toMatch(/\S/);
  });
});

describe('batchRows', () => {
  it('writes a packed row as its examples, with the packed labels (no target across a boundary)', () => {
    const seq = (ids: number[], mask: number[]) => ({ inputIds: Int32Array.from(ids), trainMask: Uint8Array.from(mask) });
    const b = packBatch([[seq([5, 6, 7], [0, 1, 1]), seq([8, 9], [1, 1])], [seq([3, 4], [1, 1])]], 6, 0);
    expect(batchRows(b)).toEqual([
      { input_ids: [5, 6, 7], labels: [-100, 6, 7] },
      { input_ids: [8, 9], labels: [-100, 9] },
      { input_ids: [3, 4], labels: [-100, 4] },
    ]);
  });
});

describe('the recipe of a preference run', () => {
  const PAIRS = 'src/data/testdata/preference-pairs.jsonl';
  const DPO = ['--format', 'recipe', '--model', 'public/demo', '--data', PAIRS, '--out', '/nonexistent/out', '--method', 'dpo', '--beta', '0.2', '--max-steps', '3', '--batch-size', '2', '--grad-accum', '2', '--max-length', '64', '--val-fraction', '0.05'];

  it("writes each pair's sides as the trainer's pair batches, method and beta in recipe.json, axolotl's rl section", async () => {
    const job = parseRecipeArgs(DPO);
    const files = await buildRecipe(job);
    const recipe = JSON.parse(text(files, 'recipe.json'));
    expect([recipe.trainer.method, recipe.trainer.beta]).toEqual(['dpo', 0.2]);
    expect(parse(text(files, 'axolotl.yaml'))).toMatchObject({ rl: 'dpo', rl_beta: 0.2 });
    // The trainer's own path for the same flags.
    const tok = await loadModelTokenizer('public/demo');
    const { preparePreferenceDataset } = await import('../../data/preference');
    const prepared = await preparePreferenceDataset(openDataFile(PAIRS), tok, { fileName: PAIRS, maxLength: 64 });
    const { train, validation } = splitValidation(prepared.pairs, 0.05, job.settings.train.seed);
    const plan = new TrainingPlan(train, { batchSize: 2, gradAccum: 2, padId: tok.padId, seed: job.settings.train.seed, maxSteps: 3, maxLength: 64 });
    const lines = jsonl(text(files, 'data/train.jsonl')) as unknown as Array<{ step: number; micro: number; pair: number; side: string; input_ids: number[]; labels: number[] }>;
    const want = [0, 1, 2].flatMap((step) =>
      plan.microBatches(step).micro.flatMap((b, micro) => {
        expect(b.pairs).toBe(2);
        return [0, 1, 2, 3].map((r) => ({ step, micro, pair: r % 2, side: r < 2 ? 'chosen' : 'rejected', input_ids: row(b, r, tok.padId).ids, labels: row(b, r, tok.padId).labels }));
      }),
    );
    expect(lines).toEqual(want);
    expect(jsonl(text(files, 'data/validation.jsonl'))).toHaveLength(2 * validation.length);
  });
});
