// A recipe folder's files in memory (path → bytes), from a planned dataset and the initial adapter.
// No Node or DOM imports: the CLI writes the files to a folder, the studio could zip them.
import { initLoraTensors, writeAdapter } from '../../engine/lora/adapter';
import type { HostTensor, ModelSpec } from '../../engine/model/spec';
import trainPy from './train.py?raw';
import { trainLines, validationLines, type PlannedData } from './data';
import { accelerateYaml, axolotlYaml, readme, recipeJson, type RecipeFacts } from './files';
import type { RecipeJob } from './settings';

export type RecipeFiles = Map<string, string | Uint8Array>;

export interface RecipeInputs {
  job: RecipeJob;
  spec: ModelSpec;
  planned: PlannedData;
  padId: number;
  /** The source data file's name (no folder) and bytes, copied into data/. */
  source: { name: string; bytes: Uint8Array };
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
  // The trainer's own initialisation for this seed (Trainer.create: initAdapter ?? initLoraTensors).
  const tensors = inp.start?.tensors ?? initLoraTensors(spec, s.lora, s.train.seed);
  const adapter = writeAdapter(spec, s.lora, tensors, baseModel, { revision: job.revision ?? null });
  const facts: RecipeFacts = {
    baseModel,
    revision: job.revision ?? null,
    padId: inp.padId,
    sourceFile: inp.source.name,
    trainExamples: planned.trainExamples,
    validationExamples: planned.validationExamples,
    stepsPerEpoch: planned.plan.stepsPerEpoch,
    adapterInit: inp.start ? `the adapter ${inp.start.from}` : `the studio's fresh initialisation for seed ${s.train.seed} (A uniform in ±1/sqrt(in_features), B = 0)`,
  };
  const files: RecipeFiles = new Map();
  files.set('data/train.jsonl', lines(trainLines(planned.plan)));
  files.set('data/validation.jsonl', lines(validationLines(planned.valBatches)));
  files.set(`data/${inp.source.name}`, inp.source.bytes);
  files.set('adapter_init/adapter_config.json', adapter.config);
  files.set('adapter_init/adapter_model.safetensors', adapter.safetensors);
  files.set('recipe.json', `${JSON.stringify(recipeJson(s, facts), null, 2)}\n`);
  files.set('train.py', trainPy);
  files.set('accelerate.yaml', accelerateYaml());
  files.set('axolotl.yaml', axolotlYaml(s, facts));
  files.set('README.md', readme(job, facts));
  return files;
}
