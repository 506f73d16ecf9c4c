// The flags that describe a training run (LoRA, optimizer, schedule, method, batching, data), parsed once
// from the run-settings schema (src/settings/run-settings.ts: flags, defaults, validators, limits)
// for `cli train` and `cli export --format recipe`, so both read the same flags with the same
// defaults, checks and limits: an exported job is the job `train` would run.
import { validateLoraSettings } from '../engine/lora/config';
import { PROJECTIONS, type Projection } from '../engine/model/arch';
import { DEFAULT_TRAIN, METHODS, type LoraHyper, type Schedule, type TrainHyper } from '../engine/train/types';
import {
  DEFAULT_NUMBERS, NUMBER_SETTINGS, OTHER_SETTINGS, SCHEDULES, numberProblem, parseMethod, parseTargets, type NumberField,
} from '../settings/run-settings';
import { DATA_FORMATS, type DataFormat } from '../data/formats';
import { runLimitError } from '../io/untrusted/limits';

/** Value flags of a run (besides where the data comes from and goes to): the schema's, but --checkpoint-every (train's own). */
export const RUN_VALUE_FLAGS = [
  ...Object.values(NUMBER_SETTINGS).map((f) => f.flag).filter((f) => f !== 'checkpoint-every'),
  OTHER_SETTINGS.targets.flag, OTHER_SETTINGS.schedule.flag, OTHER_SETTINGS.method.flag, 'init-adapter',
] as const;
export const RUN_BOOL_FLAGS = [OTHER_SETTINGS.rslora.flag, 'skip-invalid', OTHER_SETTINGS.packing.flag] as const;
/** Flags that the adapter of --init-adapter decides. */
export const ADAPTER_FLAGS = ['rank', 'alpha', 'targets', 'rslora'] as const;

export interface RunFlags {
  lora: LoraHyper;
  /** maxSteps is DEFAULT_TRAIN's until the plan decides it (from maxSteps below, or the epochs). */
  hyper: TrainHyper;
  batchSize: number;
  maxLength: number;
  /** Preference data: the prompt's kept tokens (TRL's max_prompt_length); undefined = half of maxLength. */
  maxPromptLength: number | undefined;
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

export { parseTargets };

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
  // A numeric setting: the schema's default, validator and limits (and the untrusted-input cap).
  const num = (key: NumberField, dflt = Number(DEFAULT_NUMBERS[key])): number => {
    const name = NUMBER_SETTINGS[key].flag;
    const raw = flags[name];
    if (raw === undefined) return dflt;
    const v = Number(raw);
    const capped = runLimitError(name, v);
    const problem = capped ? `--${name} ${capped}` : raw.trim() === '' ? `--${name} must be a number` : numberProblem(key, v, `--${name} ${raw}:`);
    if (problem) errors.push(problem);
    return v;
  };
  const schedule = (flags['schedule'] ?? DEFAULT_TRAIN.schedule) as Schedule;
  if (!SCHEDULES.includes(schedule)) errors.push(`--schedule ${schedule}: must be ${SCHEDULES.join(', ')}`);
  const method = parseMethod(flags['method'] ?? DEFAULT_TRAIN.method);
  if (!method) errors.push(`--method ${flags['method']}: must be ${METHODS.join(', ')}`);
  const format = (flags[formatFlag] ?? 'auto') as DataFormat | 'auto';
  if (format !== 'auto' && !(DATA_FORMATS as readonly string[]).includes(format)) errors.push(`--${formatFlag} ${format} is not known`);
  let targets: Projection[] = [...PROJECTIONS];
  try {
    if (flags['targets']) targets = parseTargets(flags['targets']);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const r = num('loraRank');
  const lora: LoraHyper = {
    r,
    // alpha defaults to twice the rank (the page's default pair is 8 / 16).
    alpha: num('loraAlpha', 2 * r),
    dropout: num('loraDropout'),
    targetModules: targets,
    useRslora: bools.has('rslora'),
  };
  const valFraction = flags['val-fraction'] === undefined ? 0 : Number(flags['val-fraction']);
  if (!(valFraction >= 0 && valFraction < 1)) errors.push(`--val-fraction ${flags['val-fraction']}: must be in [0, 1)`);
  const hyper: TrainHyper = {
    ...DEFAULT_TRAIN,
    lr: num('learningRate'),
    schedule,
    warmupSteps: num('warmupSteps'),
    gradAccum: num('gradAccum'),
    weightDecay: num('weightDecay'),
    maxGradNorm: num('maxGradNorm'),
    seed: num('seed'),
    checkpointing: bools.has('checkpointing'),
    method: method ?? DEFAULT_TRAIN.method,
    beta: num('beta'),
  };
  const out: RunFlags = {
    lora,
    hyper,
    batchSize: num('batchSize'),
    maxLength: num('maxLength'),
    maxPromptLength: flags['max-prompt-length'] === undefined ? undefined : num('maxPromptLength'),
    maxSteps: flags['max-steps'] === undefined ? undefined : num('maxSteps'),
    epochs: flags['epochs'] === undefined ? 1 : num('epochs'),
    valFraction,
    format,
    skipInvalid: bools.has('skip-invalid'),
    packing: bools.has('packing'),
    initAdapter,
  };
  if (out.maxPromptLength !== undefined && !(out.maxPromptLength < out.maxLength)) errors.push(`--max-prompt-length ${out.maxPromptLength}: must be below --max-length (${out.maxLength})`);
  try {
    validateLoraSettings(lora);
  } catch (e) {
    errors.push((e as Error).message);
  }
  return out;
}
