// "Continue on a cluster" in the studio: the recipe of the page's run, built in the worker from the
// dataset it trains on, with the run's own split (trainValidationSplit) and batcher (TrainingPlan,
// with the options handler.ts's train gives it), zipped into one download; from Past runs, the run's
// checkpoint continued (as `export --from-run`: the steps left, the adapter and AdamW moments).
import type { HostTensor, ModelSpec } from '../../engine/model/spec';
import { TrainingPlan } from '../../engine/train/plan';
import type { TrainerState } from '../../engine/train/trainer';
import { zipStore } from '../../util/zip';
import { isPairData, trainValidationSplit, type LoadedData } from '../../worker/dataset';
import type { TrainSettings } from '../../worker/protocol';
import { recipeFiles, type RecipeInputs } from './build';
import { RECIPE_ZIP_NAME } from './names';
import type { RecipeJob } from './settings';


export interface StudioRecipeInputs {
  settings: TrainSettings;
  spec: ModelSpec;
  padId: number;
  /** SFT examples, or preference pairs (cut for the run by trainValidationSplit as the worker cuts them). */
  prepared: LoadedData;
  /** The dataset file (copied into data/), or the Hub split it came from (named). */
  source: RecipeInputs['source'];
  skipInvalid: boolean;
  /** The adapter the run started from (settings.startAdapter), when it did. */
  start?: { tensors: Map<string, HostTensor>; from: string };
  /** Past runs: the run's checkpoint to continue from (adapter, AdamW moments, step), named by `from`. */
  fromRun?: { from: string; state: TrainerState };
  /** The base model's Hub id, else its display name (train.py then needs a local path in recipe.json). */
  hubId: string | null;
  modelName: string;
}

/** The recipe folder of the studio's run as a .zip (files under one folder). */
export function studioRecipeZip(inp: StudioRecipeInputs, date = new Date()): Uint8Array<ArrayBuffer> {
  const { settings } = inp;
  const { train, validation } = trainValidationSplit(inp.prepared, settings.maxLength, settings.validationExamples, settings.train.seed, settings.maxPromptLength);
  const pairs = isPairData(inp.prepared);
  const plan = new TrainingPlan(train, {
    batchSize: settings.batchSize,
    gradAccum: settings.train.gradAccum,
    padId: inp.padId,
    seed: settings.train.seed,
    maxSteps: settings.train.maxSteps,
    maxLength: settings.maxLength,
    packing: settings.packing === true && !pairs,
  });
  const n = train.length + validation.length;
  const job: RecipeJob = {
    modelDir: inp.modelName,
    dataFile: 'hub' in inp.source ? `hub:${inp.source.hub.id}:${inp.source.hub.config}/${inp.source.hub.split}` : inp.source.name,
    out: '',
    initAdapter: inp.start?.from,
    hubId: inp.hubId ?? undefined,
    revision: undefined,
    dropoutGiven: true,
    fromStudio: true,
    fromRun: inp.fromRun,
    settings: {
      lora: { ...settings.lora },
      train: { ...settings.train },
      batchSize: settings.batchSize,
      maxLength: settings.maxLength,
      maxPromptLength: settings.maxPromptLength,
      maxSteps: settings.train.maxSteps,
      epochs: plan.totalSteps / plan.stepsPerEpoch,
      valFraction: n ? validation.length / n : 0,
      format: isPairData(inp.prepared) ? 'auto' : inp.prepared.stats.format,
      skipInvalid: inp.skipInvalid,
      packing: settings.packing === true && !pairs,
    },
  };
  const files = recipeFiles({
    job,
    spec: inp.spec,
    planned: { prepared: inp.prepared, plan, trainExamples: train.length, validationExamples: validation.length, valBatches: plan.batchesOf(validation) },
    padId: inp.padId,
    source: inp.source,
    start: inp.start,
  });
  const folder = RECIPE_ZIP_NAME.replace(/\.zip$/, '');
  return zipStore([...files].map(([name, data]) => ({ name: `${folder}/${name}`, data })), date);
}
