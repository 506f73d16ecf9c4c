// A recipe folder's files in memory (path → bytes), from a planned dataset and the initial adapter.
// No Node or DOM imports: the CLI writes the files to a folder, the studio could zip them.
import { initLoraTensors, writeAdapter } from '../../engine/lora/adapter';
import { loraLayout, unpackLora } from '../../engine/lora/layout';
import { familyTargets } from '../../engine/model/arch';
import { writeSafetensors } from '../../io/safetensors';
import type { HostTensor, ModelSpec } from '../../engine/model/spec';
import trainPy from './train.py?raw';
import { trainLines, validationLines, type PlannedData } from './data';
import { accelerateYaml, axolotlYaml, readme, recipeJson, type HubDatasetSource, type RecipeFacts } from './files';
import { MOMENT_SUFFIXES, OPTIMIZER_FILE } from './names';
import { RecipeError, type RecipeJob } from './settings';

export type RecipeFiles = Map<string, string | Uint8Array>;

export interface RecipeInputs {
  job: RecipeJob;
  spec: ModelSpec;
  planned: PlannedData;
  padId: number;
  /** The source data file's name (no folder) and bytes, copied into data/; or a Hub dataset's split, named (not copied). */
  source: { name: string; bytes: Uint8Array } | { hub: HubDatasetSource };
  /** --init-adapter's tensors and where they came from; absent = the trainer's fresh init for the seed. */
  start?: { tensors: Map<string, HostTensor>; from: string };
}

function lines(gen: Iterable<string>): string {
  let out = '';
  for (const l of gen) out += `${l}\n`;
  return out;
}

/** Every file of the recipe folder. Mutates job.settings.train.maxSteps to the plan's length (as cli train does). */
export function recipeFiles(inp: RecipeInputs): RecipeFiles {
  const { job, spec, planned } = inp;
  const s = job.settings;
  s.train.maxSteps = planned.plan.totalSteps;
  const baseModel = job.hubId ?? job.modelDir;
  const resumed = job.fromRun ? continuedState(job.fromRun, inp) : null;
  // The trainer's own initialisation for this seed (Trainer.create: initAdapter ?? initLoraTensors).
  const tensors = resumed?.params ?? inp.start?.tensors ?? initLoraTensors(spec, s.lora, s.train.seed);
  const adapter = writeAdapter(spec, s.lora, tensors, baseModel, { revision: job.revision ?? null });
  const facts: RecipeFacts = {
    baseModel,
    revision: job.revision ?? null,
    padId: inp.padId,
    sourceFile: 'name' in inp.source ? inp.source.name : null,
    hubDataset: 'hub' in inp.source ? inp.source.hub : null,
    trainExamples: planned.trainExamples,
    validationExamples: planned.validationExamples,
    stepsPerEpoch: planned.plan.stepsPerEpoch,
    adapterInit: job.fromRun
      ? `the adapter of the run ${job.fromRun.from} after step ${job.fromRun.state.step}, with its AdamW moments (optimizer.safetensors)`
      : inp.start
        ? `the adapter ${inp.start.from}`
        : `the studio's fresh initialisation for seed ${s.train.seed} (A uniform in ±1/sqrt(in_features), B = 0)`,
    startStep: job.fromRun?.state.step ?? 0,
    optimizerState: job.fromRun ? OPTIMIZER_FILE : null,
    targetModules: familyTargets(spec, s.lora.targetModules),
  };
  const files: RecipeFiles = new Map();
  files.set('data/train.jsonl', lines(trainLines(planned.plan, facts.startStep)));
  files.set('data/validation.jsonl', lines(validationLines(planned.valBatches)));
  if ('name' in inp.source) files.set(`data/${inp.source.name}`, inp.source.bytes);
  files.set('adapter_init/adapter_config.json', adapter.config);
  files.set('adapter_init/adapter_model.safetensors', adapter.safetensors);
  if (resumed) files.set(OPTIMIZER_FILE, resumed.optimizer);
  files.set('recipe.json', `${JSON.stringify(recipeJson(s, facts), null, 2)}\n`);
  files.set('train.py', trainPy);
  files.set('accelerate.yaml', accelerateYaml());
  files.set('axolotl.yaml', axolotlYaml(s, facts));
  files.set('README.md', readme(job, facts));
  return files;
}

/**
 * A run's checkpoint (flat buffers in the trainer's layout for the job's settings) as PEFT-keyed
 * parameters and the optimizer file: each tensor's moments under its PEFT name, the step in the
 * metadata. Refuses a checkpoint of another layout, and a run with no step left.
 */
function continuedState(run: NonNullable<RecipeJob['fromRun']>, inp: RecipeInputs): { params: Map<string, HostTensor>; optimizer: Uint8Array } {
  const { state } = run;
  const layout = loraLayout(inp.spec, inp.job.settings.lora);
  for (const [name, flat] of [['params', state.params], ['adam.m', state.m], ['adam.v', state.v]] as const) {
    if (flat.length !== layout.totalFloats) {
      throw new RecipeError(`--from-run ${run.from}: its checkpoint's ${name} holds ${flat.length} floats; this model and the run's LoRA settings need ${layout.totalFloats} (is --model the run's model?)`);
    }
  }
  const total = inp.planned.plan.totalSteps;
  if (state.step >= total) throw new RecipeError(`--from-run ${run.from}: the run has done ${state.step} of its ${total} steps; nothing is left to continue (give --max-steps or --epochs beyond it)`);
  const params = unpackLora(layout, state.params);
  const moments = [unpackLora(layout, state.m), unpackLora(layout, state.v)];
  const tensors = [...params.keys()].flatMap((key) =>
    MOMENT_SUFFIXES.map((suffix, i) => ({ name: `${key}.${suffix}`, dtype: 'F32' as const, ...moments[i].get(key)! })),
  );
  const optimizer = writeSafetensors(tensors, { format: 'lora-studio-adamw', step: String(state.step) }, OPTIMIZER_FILE);
  return { params, optimizer };
}
