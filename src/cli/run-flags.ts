// The flags that describe a training run (LoRA, optimizer, schedule, batching, data), parsed once
// for `cli train` and `cli export --format recipe`, so both read the same flags with the same
// defaults, checks and limits: an exported job is the job `train` would run.
import { validateLoraSettings } from '../engine/lora/config';
import { ALL_PROJECTIONS, isProjection, PROJECTIONS, TARGET_GROUPS, type Projection } from '../engine/model/arch';
import { DEFAULT_TRAIN, type LoraHyper, type Schedule, type TrainHyper } from '../engine/train/types';
import { DATA_FORMATS, type DataFormat } from '../data/formats';
import { runLimitError } from '../io/untrusted/limits';

/** Value flags of a run (besides where the data comes from and goes to). */
export const RUN_VALUE_FLAGS = [
  'rank', 'alpha', 'dropout', 'targets', 'lr', 'schedule', 'warmup', 'epochs', 'max-steps',
  'batch-size', 'grad-accum', 'max-length', 'seed', 'weight-decay', 'max-grad-norm', 'val-fraction', 'init-adapter',
] as const;
export const RUN_BOOL_FLAGS = ['rslora', 'skip-invalid', 'packing'] as const;
/** Flags that the adapter of --init-adapter decides. */
export const ADAPTER_FLAGS = ['rank', 'alpha', 'targets', 'rslora'] as const;

export interface RunFlags {
  lora: LoraHyper;
  /** maxSteps is DEFAULT_TRAIN's until the plan decides it (from maxSteps below, or the epochs). */
  hyper: TrainHyper;
  batchSize: number;
  maxLength: number;
  /** Given --max-steps (else the epochs decide the plan's length). */
  maxSteps: number | undefined;
  epochs: number;
  valFraction: number;
  format: DataFormat | 'auto';
  skipInvalid: boolean;
  /** Several examples per row of maxLength tokens (TrainingPlan's packing). */
  packing: boolean;
  initAdapter: string | undefined;
}

export function parseTargets(s: string): Projection[] {
  if (s === 'all' || s === 'attention' || s === 'mlp') return [...TARGET_GROUPS[s]];
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const t of list) if (!isProjection(t)) throw new Error(`--targets: "${t}" is not one of ${ALL_PROJECTIONS.join(', ')} (or attention, mlp, all)`);
  return list as Projection[];
}

/**
 * The run described by parsed flags; every problem is pushed onto `errors` (named by flag), and the
 * values returned for a flag in error are not to be used. `formatFlag` names the data-format flag
 * (`--format` for train; `--data-format` where --format means something else).
 */
export function parseRunFlags(
  flags: Record<string, string | undefined>,
  bools: ReadonlySet<string>,
  errors: string[],
  formatFlag: 'format' | 'data-format',
): RunFlags {
  const initAdapter = flags['init-adapter'];
  if (initAdapter !== undefined) {
    for (const f of ADAPTER_FLAGS) if (flags[f] !== undefined || bools.has(f)) errors.push(`--${f} cannot be combined with --init-adapter: the adapter's own setting is used`);
  }
  const num = (name: string, dflt: number, check: (v: number) => boolean, what: string): number => {
    const raw = flags[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || !check(v)) errors.push(`--${name} ${raw}: must be ${what}`);
    else if (runLimitError(name, v)) errors.push(`--${name} ${runLimitError(name, v)}`);
    return v;
  };
  const int = (v: number) => Number.isInteger(v) && v >= 1;
  const nonNegInt = (v: number) => Number.isInteger(v) && v >= 0;
  const schedule = (flags['schedule'] ?? DEFAULT_TRAIN.schedule) as Schedule;
  if (!['constant', 'linear', 'cosine'].includes(schedule)) errors.push(`--schedule ${schedule}: must be constant, linear or cosine`);
  const format = (flags[formatFlag] ?? 'auto') as DataFormat | 'auto';
  if (format !== 'auto' && !(DATA_FORMATS as readonly string[]).includes(format)) errors.push(`--${formatFlag} ${format} is not known`);
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
  const hyper: TrainHyper = {
    ...DEFAULT_TRAIN,
    lr: num('lr', DEFAULT_TRAIN.lr, (v) => v > 0, 'positive'),
    schedule,
    warmupSteps: num('warmup', DEFAULT_TRAIN.warmupSteps, nonNegInt, 'a non-negative integer'),
    gradAccum: num('grad-accum', DEFAULT_TRAIN.gradAccum, int, 'a positive integer'),
    weightDecay: num('weight-decay', DEFAULT_TRAIN.weightDecay, (v) => v >= 0, 'non-negative'),
    maxGradNorm: num('max-grad-norm', DEFAULT_TRAIN.maxGradNorm, (v) => v >= 0, 'non-negative'),
    seed: num('seed', DEFAULT_TRAIN.seed, (v) => Number.isInteger(v), 'an integer'),
    checkpointing: bools.has('checkpointing'),
  };
  const out: RunFlags = {
    lora,
    hyper,
    batchSize: num('batch-size', 4, int, 'a positive integer'),
    maxLength: num('max-length', 1024, (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2'),
    maxSteps: flags['max-steps'] === undefined ? undefined : num('max-steps', 1, int, 'a positive integer'),
    epochs: num('epochs', 1, (v) => v > 0, 'positive'),
    valFraction: num('val-fraction', 0, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    format,
    skipInvalid: bools.has('skip-invalid'),
    packing: bools.has('packing'),
    initAdapter,
  };
  try {
    validateLoraSettings(lora);
  } catch (e) {
    errors.push((e as Error).message);
  }
  return out;
}
