// `export --format recipe --from-run DIR`: the job of a `cli train` run continued from its checkpoint
// (DIR is train's --out, holding training_state.safetensors, read by train's own loadTrainState).
// The run's command line is the job's, as for `train --resume`: the flags given now are appended and
// a later flag wins, except those the checkpoint fixes: the adapter's shape and scale, whose moments
// the checkpoint holds, and what decides the data order of the steps already done (TrainingPlan is a
// pure function of these and the seed). Giving one of those with another value is an error naming it.
import { parseArgs } from '../../cli/args';
import { ADAPTER_FLAGS, parseRunFlags, RUN_BOOL_FLAGS, type RunFlags } from '../../cli/run-flags';
import { TRAIN_VALUE_FLAGS, withoutFlags } from '../../cli/train';
import { fixedSettingChanges, loadTrainState, sha256File, type SavedRun } from '../../cli/train-state';
import { RecipeError } from './settings';


/** train's flags a recipe has no use for (the recipe trains f32, evaluates at the end, checkpoints with --save-steps). */
const TRAIN_ONLY_FLAGS = ['eval-every', 'quant', 'checkpoint-every', 'checkpointing'];

/** A run's saved arguments as recipe flags: train's --format is the data format, train-only flags dropped. */
function asRecipeArgs(saved: string[]): string[] {
  const { flags, bools } = parseArgs(saved, TRAIN_VALUE_FLAGS);
  const out: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || TRAIN_ONLY_FLAGS.includes(k)) continue;
    out.push(`--${k === 'format' ? 'data-format' : k}`, v);
  }
  for (const b of bools) if ((RUN_BOOL_FLAGS as readonly string[]).includes(b)) out.push(`--${b}`);
  return out;
}

function runFlagsOf(args: string[], valueFlags: string[]): { flags: Record<string, string | undefined>; run: RunFlags } {
  const { flags, bools } = parseArgs(args, valueFlags);
  return { flags, run: parseRunFlags(flags, bools, [], 'data-format') };
}

export interface ContinuedArgs {
  /** The recipe's command line: the run's flags, then the ones given now. */
  args: string[];
  run: SavedRun;
}

/**
 * `args` (the export's command line, with --from-run DIR) as the command line of the run in DIR
 * continued. Throws RecipeError for a conflicting flag or changed data, TrainStateError when DIR
 * holds no readable checkpoint.
 */
export async function continuedRunArgs(args: string[], valueFlags: string[]): Promise<ContinuedArgs> {
  const given = parseArgs(args, valueFlags);
  const dir = given.flags['from-run']!;
  const run = await loadTrainState(dir, '--from-run');
  const savedArgs = asRecipeArgs(run.args);
  const merged = [...savedArgs, ...withoutFlags(args, ['from-run'])];
  const before = runFlagsOf(savedArgs, valueFlags).run;
  const after = runFlagsOf(merged, valueFlags).run;
  const errors: string[] = [];
  for (const { flag, was } of fixedSettingChanges(before, after)) {
    // Only the flags given now are named (--rank 8 alone also changes the default alpha).
    if (given.flags[flag] === undefined && !given.bools.has(flag)) continue;
    // A run from --init-adapter: parseRecipeArgs refuses these beside it (the adapter decides them).
    if (before.initAdapter !== undefined && (ADAPTER_FLAGS as readonly string[]).includes(flag)) continue;
    const asGiven = given.flags[flag] !== undefined ? `--${flag} ${given.flags[flag]}` : `--${flag}`;
    errors.push(`${asGiven} conflicts with --from-run ${dir}: the run trained with ${was}, which its checkpoint (adapter, AdamW moments, order of the steps done) holds to; leave --${flag} out`);
  }
  // The run's data file unless --data names another copy: either way it must be the bytes the run trained on.
  const data = runFlagsOf(merged, valueFlags).flags['data'];
  if (data !== undefined && errors.length === 0) {
    let sha: string;
    try {
      sha = await sha256File(data);
    } catch (e) {
      throw new RecipeError(`--data ${data}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (sha !== run.dataSha256) errors.push(`--data ${data} is not the data of --from-run ${dir} (sha256 ${sha}, the run's ${run.dataSha256}); the steps done cannot be continued on other data`);
  }
  if (errors.length) throw new RecipeError(errors.join('\n'));
  return { args: merged, run };
}
