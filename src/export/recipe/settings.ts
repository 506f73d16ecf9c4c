// The job a recipe exports: the same settings `cli train` takes (src/cli/train.ts), parsed from the
// same flags with the same defaults, plus where the base model comes from on the cluster.
import { parseArgs, usageErrors } from '../../cli/args';
import { parseRunFlags, RUN_BOOL_FLAGS, RUN_VALUE_FLAGS, type RunFlags } from '../../cli/run-flags';
import type { TrainerState } from '../../engine/train/trainer';
import type { TrainHyper } from '../../engine/train/types';

/**
 * A run's settings as train parses them (src/cli/run-flags.ts), with `hyper` named `train`; its
 * maxSteps is the plan's total (the maxSteps flag, or epochs × steps per epoch) once the data is planned.
 */
export type RecipeSettings = Omit<RunFlags, 'hyper' | 'initAdapter'> & { train: TrainHyper };

export interface RecipeJob {
  modelDir: string;
  dataFile: string;
  out: string;
  initAdapter: string | undefined;
  /** The base model's Hub id (train.py downloads it), else the model folder's path. */
  hubId: string | undefined;
  revision: string | undefined;
  /** --hub-endpoint: the Hub a `--data hub:…` dataset comes from (else HF_ENDPOINT, else huggingface.co). */
  hubEndpoint?: string;
  /** --dropout was given (with --init-adapter it overrides the adapter's lora_dropout, as in cli train). */
  dropoutGiven: boolean;
  /** --from-run: the run continued (its checkpoint's adapter, AdamW moments and step; src/export/recipe/from-run.ts). */
  fromRun?: { from: string; state: TrainerState };
  /** Made by the studio's page (its README then points at the page's run, not at `cli train`). */
  fromStudio?: boolean;
  settings: RecipeSettings;
}

export class RecipeError extends Error {
  override name = 'RecipeError';
}

export const RECIPE_VALUE_FLAGS = ['format', 'model', 'data', 'out', ...RUN_VALUE_FLAGS, 'data-format', 'hub-id', 'revision', 'hub-endpoint'];
const VALUE_FLAGS = RECIPE_VALUE_FLAGS;
const BOOL_FLAGS = [...RUN_BOOL_FLAGS];

/** Parses `export --format recipe ...` with train's run flags (src/cli/run-flags.ts); every problem is listed in one RecipeError. */
export function parseRecipeArgs(args: string[]): RecipeJob {
  const { flags, bools, positional } = parseArgs(args, VALUE_FLAGS);
  const errors = usageErrors({ flags, bools, positional }, { values: VALUE_FLAGS, bools: BOOL_FLAGS });
  for (const req of ['model', 'data', 'out']) if (!flags[req]) errors.push(`--${req} is required`);
  const { hyper: train, initAdapter, ...run } = parseRunFlags(flags, bools, errors, 'data-format');
  const settings: RecipeSettings = { ...run, train };
  if (flags['revision'] !== undefined && flags['hub-id'] === undefined) errors.push('--revision needs --hub-id (a local model folder has no revision)');
  if (errors.length) throw new RecipeError(errors.join('\n'));
  return {
    modelDir: flags['model']!,
    dataFile: flags['data']!,
    out: flags['out']!,
    initAdapter,
    hubId: flags['hub-id'],
    revision: flags['revision'],
    hubEndpoint: flags['hub-endpoint'],
    dropoutGiven: flags['dropout'] !== undefined,
    settings,
  };
}
