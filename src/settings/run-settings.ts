// The one schema of a run's settings: each setting's default, limits, CLI flag, page label and
// hint, and where the recipe carries it. The CLI (src/cli/run-flags.ts), the page
// (src/state/settings.ts and the Settings panel), the worker (its TrainSettings come from the page's
// form through this) and the recipe (src/export/recipe/mapping.ts) all read it; a setting is added
// here once. Pure: no React, no DOM, no Node.
import { ALL_PROJECTIONS, isProjection, TARGET_GROUPS, type Projection, type TargetGroup } from '../engine/model/arch';
import { DEFAULT_TRAIN, METHODS, type Method, type Schedule } from '../engine/train/types';

/** A numeric setting: its validator is `numberProblem`. */
export interface NumberSetting {
  /** The CLI flag (`--flag`). */
  flag: string;
  label: string;
  hint: string;
  /** Integer only. */
  int: boolean;
  min: number;
  max: number;
  /** min is exclusive (a learning rate of 0 is refused). */
  minExclusive?: boolean;
  /** An empty value is allowed (epochs). */
  optional?: boolean;
  /** The page input's step. */
  step: string;
  /** Where the recipe maps it: a key of src/export/recipe/mapping.ts allMappings(), or where it goes. */
  recipe: string;
}

/**
 * The page's numeric fields (SettingsForm.numbers). Their defaults are DEFAULT_NUMBERS below; the
 * CLI takes the same ones.
 */
export const NUMBER_SETTINGS = {
  loraRank: { flag: 'rank', label: 'LoRA rank', hint: 'Rank r of the low-rank update. Higher learns more and costs more memory; 8–16 is typical.', int: true, min: 1, max: 512, step: '1', recipe: 'lora.r' },
  loraAlpha: { flag: 'alpha', label: 'LoRA alpha', hint: 'Scales the update by alpha / r (alpha / √r with rsLoRA). Often twice the rank.', int: false, min: 0, max: 4096, minExclusive: true, step: 'any', recipe: 'lora.alpha' },
  loraDropout: { flag: 'dropout', label: 'LoRA dropout', hint: 'Dropout on the LoRA input path while training. 0–0.1 is typical.', int: false, min: 0, max: 0.9, step: '0.01', recipe: 'lora.dropout' },
  learningRate: { flag: 'lr', label: 'Learning rate', hint: 'Peak AdamW learning rate. 1e-4 to 3e-4 suits most LoRA runs on real models.', int: false, min: 0, max: 1e6, minExclusive: true, step: 'any', recipe: 'train.lr' },
  warmupSteps: { flag: 'warmup', label: 'Warmup steps', hint: 'Steps over which the learning rate rises linearly from 0.', int: true, min: 0, max: 1_000_000, step: '1', recipe: 'train.warmupSteps' },
  maxSteps: { flag: 'max-steps', label: 'Max steps', hint: 'Optimizer steps to train for (each uses batch size × gradient accumulation sequences).', int: true, min: 1, max: 1_000_000, step: '1', recipe: 'train.maxSteps' },
  epochs: { flag: 'epochs', label: 'Epochs', hint: 'Optional: passes over the dataset. When set, training stops after this many epochs or Max steps, whichever comes first.', int: false, min: 0, max: 1000, minExclusive: true, optional: true, step: 'any', recipe: 'epochs' },
  batchSize: { flag: 'batch-size', label: 'Batch size', hint: 'Sequences per micro-batch (a preference pair is two). Memory grows with batch size × max length.', int: true, min: 1, max: 1024, step: '1', recipe: 'batchSize' },
  gradAccum: { flag: 'grad-accum', label: 'Gradient accumulation', hint: 'Micro-batches summed per optimizer step: a larger effective batch without more memory.', int: true, min: 1, max: 1024, step: '1', recipe: 'train.gradAccum' },
  maxLength: { flag: 'max-length', label: 'Max length', hint: 'Tokens per sequence; longer examples are truncated.', int: true, min: 8, max: 131_072, step: '1', recipe: 'maxLength' },
  maxPromptLength: { flag: 'max-prompt-length', label: 'Max prompt length', hint: 'Preference data: a prompt longer than this keeps its last tokens (TRL’s max_prompt_length); empty = half of Max length.', int: true, min: 1, max: 131_072, optional: true, step: '1', recipe: 'maxPromptLength' },
  seed: { flag: 'seed', label: 'Seed', hint: 'Seeds the LoRA initialisation, dropout and data order: the same seed repeats a run.', int: true, min: 0, max: 2 ** 31 - 1, step: '1', recipe: 'train.seed' },
  weightDecay: { flag: 'weight-decay', label: 'Weight decay', hint: 'Decoupled AdamW weight decay on the LoRA weights. 0 is common for LoRA.', int: false, min: 0, max: 1, step: 'any', recipe: 'train.weightDecay' },
  maxGradNorm: { flag: 'max-grad-norm', label: 'Gradient clipping', hint: 'Clip the global gradient norm to this value; 0 turns clipping off.', int: false, min: 0, max: 1e6, step: 'any', recipe: 'train.maxGradNorm' },
  checkpointEvery: { flag: 'checkpoint-every', label: 'Checkpoint every', hint: 'Save the run every N steps (and always at the end and on Stop): after a reload or a crash it resumes from there. 0 saves only at the end.', int: true, min: 0, max: 1_000_000, step: '1', recipe: 'train.py --save-steps' },
  validationExamples: { flag: 'val-fraction', label: 'Validation examples', hint: "Examples held out (from the end of the dataset, at most a fifth) to measure validation loss. The CLI's --val-fraction gives them as a fraction.", int: true, min: 0, max: 100_000, step: '1', recipe: 'valFraction' },
  beta: { flag: 'beta', label: 'Beta', hint: 'DPO / IPO: how far the adapter may move from the base (larger keeps it closer; TRL’s default 0.1). ORPO: the weight of the odds-ratio term (lambda). Unused by SFT.', int: false, min: 0, max: 1000, minExclusive: true, step: 'any', recipe: 'train.beta' },
} as const satisfies Record<string, NumberSetting>;

export type NumberField = keyof typeof NUMBER_SETTINGS;

/** Every numeric setting's default, as the page's form holds it (text) and the CLI parses it. */
export const DEFAULT_NUMBERS: Record<NumberField, string> = {
  loraRank: '8',
  loraAlpha: '16',
  loraDropout: '0.05',
  learningRate: String(DEFAULT_TRAIN.lr),
  warmupSteps: String(DEFAULT_TRAIN.warmupSteps),
  maxSteps: String(DEFAULT_TRAIN.maxSteps),
  epochs: '',
  batchSize: '4',
  gradAccum: String(DEFAULT_TRAIN.gradAccum),
  maxLength: '512',
  maxPromptLength: '',
  seed: String(DEFAULT_TRAIN.seed),
  weightDecay: String(DEFAULT_TRAIN.weightDecay),
  maxGradNorm: String(DEFAULT_TRAIN.maxGradNorm),
  validationExamples: '0',
  checkpointEvery: '10',
  beta: String(DEFAULT_TRAIN.beta),
};

/** Why `v` is refused for `key` (message opens with the setting's name), or null. */
export function numberProblem(key: NumberField, v: number, name: string = NUMBER_SETTINGS[key].label): string | null {
  const f: NumberSetting = NUMBER_SETTINGS[key];
  if (!Number.isFinite(v)) return `${name} must be a number`;
  if (f.int && !Number.isInteger(v)) return `${name} must be a whole number`;
  if (f.minExclusive ? v <= f.min : v < f.min) return `${name} must be ${f.minExclusive ? 'greater than' : 'at least'} ${f.min}`;
  if (v > f.max) return `${name} must be at most ${f.max}`;
  return null;
}

/** A setting that is not a number: a switch or a choice. */
export interface OtherSetting {
  flag: string;
  label: string;
  hint: string;
  recipe: string;
}

export const OTHER_SETTINGS = {
  method: {
    flag: 'method',
    label: 'Method',
    hint: 'What the run optimizes: SFT learns the completions of the examples; DPO, IPO and ORPO learn from preference pairs which of two answers is better.',
    recipe: 'train.method',
  },
  targets: {
    flag: 'targets',
    label: 'Target modules',
    hint: 'Which projections get a LoRA adapter: attention (q, k, v, o), MLP (gate, up, down), all, or a custom set.',
    recipe: 'lora.targetModules',
  },
  rslora: { flag: 'rslora', label: 'rsLoRA', hint: 'Rank-stabilised LoRA: scale by alpha / √r instead of alpha / r, which keeps high ranks stable.', recipe: 'lora.useRslora' },
  schedule: { flag: 'schedule', label: 'LR schedule', hint: 'How the learning rate changes after warmup: constant, linear decay to 0, or cosine decay to 0.', recipe: 'train.schedule' },
  packing: {
    flag: 'packing',
    label: 'Packing',
    hint: 'Put several examples in each row of Max length tokens, each attending only to itself (positions restart, no loss across the boundary): far less padding when examples are short. Automatic: on when the examples average at most half of Max length.',
    recipe: 'packing',
  },
  checkpointing: {
    flag: 'checkpointing',
    label: 'Gradient checkpointing',
    hint: 'Keep only each layer’s input and recompute the rest in backward: less memory, about a third slower.',
    recipe: 'train.checkpointing',
  },
} as const satisfies Record<string, OtherSetting>;

/** Each method: its name on the page, one line on what it does and the data it needs. */
export const METHOD_INFO: Record<Method, { label: string; line: string; preference: boolean }> = {
  sft: { label: 'SFT', line: 'Supervised fine-tuning: learns to write the completions of the examples (instruction, chat or text data).', preference: false },
  dpo: { label: 'DPO', line: 'Direct preference optimization: prefers the chosen answer over the rejected one, relative to the base model (preference pairs).', preference: true },
  ipo: { label: 'IPO', line: 'Identity preference optimization: as DPO with a squared loss on token-averaged log-ratios that does not overfit the pairs (preference pairs).', preference: true },
  orpo: { label: 'ORPO', line: 'Odds-ratio preference optimization: learns the chosen answers and their odds over the rejected ones, without a reference model (preference pairs).', preference: true },
};

/** The methods a dataset can feed: SFT for examples, DPO / IPO / ORPO for preference pairs. */
export function methodsFor(preferenceData: boolean): Method[] {
  return METHODS.filter((m) => METHOD_INFO[m].preference === preferenceData);
}

/** Where the user picks the method: the page's Method field, or the CLI's `--method` and `--data` flags. */
export type MethodChooser = 'page' | 'cli';

/** How to pick the methods `ms` (DPO, IPO or ORPO / --method dpo, ipo or orpo). */
function chooseMethods(ms: Method[], how: MethodChooser): string {
  const names = ms.map((m) => (how === 'page' ? METHOD_INFO[m].label : m));
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
  return how === 'page' ? `choose ${list} as the Method` : `choose --method ${list}`;
}

/**
 * Why `method` cannot train this data, or null: the one message for the page (before a run), the worker
 * (again at its start) and the CLI (`how` = 'cli', `data` the file's name).
 */
export function methodDataProblem(method: Method, preferenceData: boolean, how: MethodChooser = 'page', data = 'this dataset'): string | null {
  if (METHOD_INFO[method].preference === preferenceData) return null;
  const label = METHOD_INFO[method].label;
  const other = how === 'page' ? (preferenceData ? 'load an SFT dataset' : 'load a preference file') : preferenceData ? 'give --data an SFT file' : 'give --data a preference file';
  return preferenceData
    ? `${label} trains on examples, and ${data} is preference data (chosen / rejected pairs): ${chooseMethods(methodsFor(true), how)}, or ${other}`
    : `${label} needs preference data (records with "chosen" and "rejected"), and ${data} has SFT examples: ${chooseMethods(methodsFor(false), how)}, or ${other}`;
}

export function parseMethod(s: string): Method | null {
  return (METHODS as readonly string[]).includes(s) ? (s as Method) : null;
}

export const SCHEDULES: readonly Schedule[] = ['constant', 'linear', 'cosine'];

/** Held-out validation examples may be at most this share of the dataset (the page, the worker, the CLI's split, the recipe). */
export const MAX_VALIDATION_SHARE = 5;
/** The most examples of `examples` a run may hold out for validation: a fifth. */
export function maxValidationExamples(examples: number): number {
  return Math.floor(examples / MAX_VALIDATION_SHARE);
}

/** The target groups by name: the architecture table's (src/engine/model/arch), named here for the CLI and the page. */
export { TARGET_GROUPS, type TargetGroup };

/** `--targets`: a group name or a comma list of projections. */
export function parseTargets(s: string): Projection[] {
  if (Object.prototype.hasOwnProperty.call(TARGET_GROUPS, s)) return [...TARGET_GROUPS[s as TargetGroup]];
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const t of list) if (!isProjection(t)) throw new Error(`--targets: "${t}" is not one of ${ALL_PROJECTIONS.join(', ')} (or ${Object.keys(TARGET_GROUPS).join(', ')})`);
  return list as Projection[];
}
