// `cli export --format recipe --model MODEL_DIR --data FILE [train settings as for train; the data
// format is --data-format] [--init-adapter DIR|ZIP] [--hub-id ID --revision REV] --out OUT_DIR`:
// the studio's job as a folder for a cluster trainer (Accelerate + transformers/PEFT, axolotl).
// `--from-run RUN_DIR` (a `train --out` folder) continues that run from its checkpoint: the run's
// flags and files unless given again (from-run.ts), its adapter, AdamW moments and step. The
// folder's README.md says what is in it; src/export/recipe/README.md says how it is made.
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs, UsageError } from '../../cli/args';
import { TrainStateError } from '../../cli/train-state';
import { SafetensorsError } from '../../io/safetensors';
import { loadModelTokenizer } from '../../cli/prepare';
import { openCliData } from '../../cli/data-arg';
import { HubError } from '../../hub/download';
import { HubDatasetError } from '../../hub/datasets';
import { HubEndpointError } from '../../hub/endpoint';
import { adapterFolder } from '../../cli/train';
import { DatasetError, formatIssues } from '../../data/errors';
import { AdapterError, readAdapter } from '../../engine/lora/adapter';
import { loadModelSpec } from '../../engine/model/weights';
import { nodeFolder } from '../../io/node-files';
import { recipeFiles, type RecipeFiles } from './build';
import { planRecipeData } from './data';
import { writeRecipeFolder } from './folder';
import { OutDirError } from '../out-dir';
import { continuedRunArgs } from './from-run';
import { parseRecipeArgs, RECIPE_VALUE_FLAGS, RecipeError, type RecipeJob } from './settings';

/** The recipe of a job whose model and data are files on this machine. */
export async function buildRecipe(job: RecipeJob): Promise<RecipeFiles> {
  const spec = await loadModelSpec(nodeFolder(job.modelDir));
  let start: { tensors: Awaited<ReturnType<typeof readAdapter>>['tensors']; from: string } | undefined;
  if (job.initAdapter !== undefined) {
    let read;
    try {
      read = await readAdapter(adapterFolder(job.initAdapter), spec);
    } catch (e) {
      if (e instanceof AdapterError) throw new AdapterError(`--init-adapter ${e.message}`);
      throw e;
    }
    // As cli train: the adapter's settings, the --dropout flag over its lora_dropout.
    const dropout = job.dropoutGiven ? job.settings.lora.dropout : read.settings.dropout;
    job.settings.lora = { ...read.settings, dropout };
    start = { tensors: read.tensors, from: basename(job.initAdapter) };
  }
  const tok = await loadModelTokenizer(job.modelDir);
  const data = await openCliData(job.dataFile, job.hubEndpoint, 'export --format recipe');
  const planned = await planRecipeData(data.open(), job.dataFile, tok, job.settings);
  for (const w of planned.prepared.warnings) process.stderr.write(`warning: ${w}\n`);
  return recipeFiles({
    // A local base model is named by its absolute path, so train.py finds it from any folder.
    job: { ...job, modelDir: resolve(job.modelDir) },
    spec,
    planned,
    padId: tok.padId,
    // A Hub dataset is named (its id, config, split and commit), a local file copied.
    source: data.hub
      ? { hub: { id: data.hub.id, config: data.hub.config, split: data.hub.split, revision: data.hub.sha } }
      : { name: basename(job.dataFile), bytes: new Uint8Array(readFileSync(job.dataFile)) },
    start,
  });
}

/**
 * The job of an export command line; with --from-run DIR, the run's own command line continued
 * (from-run.ts). Throws RecipeError (bad or conflicting flags, other data), TrainStateError.
 */
export async function recipeJob(args: string[]): Promise<RecipeJob> {
  const valueFlags = [...RECIPE_VALUE_FLAGS, 'from-run'];
  const fromRun = parseArgs(args, valueFlags).flags['from-run'];
  if (fromRun === undefined) return parseRecipeArgs(args);
  const continued = await continuedRunArgs(args, valueFlags);
  return { ...parseRecipeArgs(continued.args), fromRun: { from: fromRun, state: continued.run.state } };
}

export async function run(_format: string, args: string[]): Promise<number> {
  let job: RecipeJob;
  try {
    job = await recipeJob(args);
  } catch (e) {
    if (e instanceof RecipeError) throw new UsageError(e.message.split('\n').map((l) => `export --format recipe: ${l}`).join('\n'));
    if (!(e instanceof TrainStateError || e instanceof SafetensorsError)) throw e;
    process.stderr.write(`export --format recipe: ${e.message}\n`);
    return 1;
  }
  try {
    await writeRecipeFolder(job.out, await buildRecipe(job));
  } catch (e) {
    if (e instanceof DatasetError) {
      process.stderr.write(`export --format recipe: ${e.message}\n${formatIssues(e.issues, e.issueCount).map((l) => `${l}\n`).join('')}`);
      return 1;
    }
    if (e instanceof RecipeError || e instanceof AdapterError || e instanceof OutDirError || e instanceof HubError || e instanceof HubDatasetError || e instanceof HubEndpointError) {
      process.stderr.write(`export --format recipe: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  process.stdout.write(`${JSON.stringify({ out: job.out, steps: job.settings.train.maxSteps })}\n`);
  return 0;
}
