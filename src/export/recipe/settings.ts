// The job a recipe exports: the same settings `cli train` takes (src/cli/train.ts), parsed from the
// same flags with the same defaults, plus where the base model comes from on the cluster.
import { parseTargets } from '../../cli/train';
import { parseArgs, usageErrors } from '../../cli/args';
import { validateLoraSettings } from '../../engine/lora/config';
import { PROJECTIONS, type Projection } from '../../engine/model/spec';
import { DEFAULT_TRAIN, type LoraHyper, type Schedule, type TrainHyper } from '../../engine/train/types';
import { DATA_FORMATS, type DataFormat } from '../../data/formats';

export interface RecipeSettings {
  lora: LoraHyper;
  /** maxSteps is the plan's total (maxSteps flag, or epochs × steps per epoch) once the data is planned. */
  train: TrainHyper;
  batchSize: number;
  maxLength: number;
  /** Given --max-steps (else the epochs decide the plan's length). */
  maxSteps: number | undefined;
  epochs: number;
  valFraction: number;
  format: DataFormat | 'auto';
  skipInvalid: boolean;
}

export interface RecipeJob {
  modelDir: string;
  dataFile: string;
  out: string;
  initAdapter: string | undefined;
  /** The base model's Hub id (train.py downloads it), else the model folder's path. */
  hubId: string | undefined;
  revision: string | undefined;
  /** --dropout was given (with --init-adapter it overrides the adapter's lora_dropout, as in cli train). */
  dropoutGiven: boolean;
  /** Made by the studio's page (its README then points at the page's run, not at `cli train`). */
  fromStudio?: boolean;
  settings: RecipeSettings;
}

export class RecipeError extends Error {
  override name = 'RecipeError';
}

const VALUE_FLAGS = [
  'format', 'model', 'data', 'out', 'rank', 'alpha', 'dropout', 'targets', 'lr', 'schedule', 'warmup', 'epochs', 'max-steps',
  'batch-size', 'grad-accum', 'max-length', 'seed', 'weight-decay', 'max-grad-norm', 'val-fraction', 'data-format',
  'init-adapter', 'hub-id', 'revision',
];
const BOOL_FLAGS = ['rslora', 'skip-invalid'];
const ADAPTER_FLAGS = ['rank', 'alpha', 'targets', 'rslora'];

/** Parses `export --format recipe ...`; every problem is listed in one RecipeError. */
export function parseRecipeArgs(args: string[]): RecipeJob {
  const { flags, bools, positional } = parseArgs(args, VALUE_FLAGS);
  const errors = usageErrors({ flags, bools, positional }, { values: VALUE_FLAGS, bools: BOOL_FLAGS });
  const initAdapter = flags['init-adapter'];
  if (initAdapter !== undefined) {
    for (const f of ADAPTER_FLAGS) if (flags[f] !== undefined || bools.has(f)) errors.push(`--${f} cannot be combined with --init-adapter: the adapter's own setting is used`);
  }
  const num = (name: string, dflt: number, check: (v: number) => boolean, what: string): number => {
    const raw = flags[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || !check(v)) errors.push(`--${name} ${raw}: must be ${what}`);
    return v;
  };
  const int = (v: number) => Number.isInteger(v) && v >= 1;
  for (const req of ['model', 'data', 'out']) if (!flags[req]) errors.push(`--${req} is required`);
  const schedule = (flags['schedule'] ?? DEFAULT_TRAIN.schedule) as Schedule;
  if (!['constant', 'linear', 'cosine'].includes(schedule)) errors.push(`--schedule ${schedule}: must be constant, linear or cosine`);
  const format = (flags['data-format'] ?? 'auto') as DataFormat | 'auto';
  if (format !== 'auto' && !(DATA_FORMATS as readonly string[]).includes(format)) errors.push(`--data-format ${format} is not known`);
  let targets: Projection[] = [...PROJECTIONS];
  try {
    if (flags['targets']) targets = parseTargets(flags['targets']);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const r = num('rank', 16, int, 'a positive integer');
  const lora: LoraHyper = {
    r,
    alpha: num('alpha', 2 * r, (v) => v > 0, 'positive'),
    dropout: num('dropout', 0.05, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    targetModules: targets,
    useRslora: bools.has('rslora'),
  };
  const train: TrainHyper = {
    ...DEFAULT_TRAIN,
    lr: num('lr', DEFAULT_TRAIN.lr, (v) => v > 0, 'positive'),
    schedule,
    warmupSteps: num('warmup', 0, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer'),
    gradAccum: num('grad-accum', 1, int, 'a positive integer'),
    weightDecay: num('weight-decay', 0, (v) => v >= 0, 'non-negative'),
    maxGradNorm: num('max-grad-norm', 1, (v) => v >= 0, 'non-negative'),
    seed: num('seed', 42, (v) => Number.isInteger(v), 'an integer'),
    checkpointing: false,
  };
  const settings: RecipeSettings = {
    lora,
    train,
    batchSize: num('batch-size', 4, int, 'a positive integer'),
    maxLength: num('max-length', 1024, (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2'),
    maxSteps: flags['max-steps'] === undefined ? undefined : num('max-steps', 1, int, 'a positive integer'),
    epochs: num('epochs', 1, (v) => v > 0, 'positive'),
    valFraction: num('val-fraction', 0, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    format,
    skipInvalid: bools.has('skip-invalid'),
  };
  try {
    validateLoraSettings(lora);
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (flags['revision'] !== undefined && flags['hub-id'] === undefined) errors.push('--revision needs --hub-id (a local model folder has no revision)');
  if (errors.length) throw new RecipeError(errors.join('\n'));
  return {
    modelDir: flags['model']!,
    dataFile: flags['data']!,
    out: flags['out']!,
    initAdapter,
    hubId: flags['hub-id'],
    revision: flags['revision'],
    dropoutGiven: flags['dropout'] !== undefined,
    settings,
  };
}
