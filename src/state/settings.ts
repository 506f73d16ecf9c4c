// Training settings as the form holds them (numbers as typed text, so "0." survives typing),
// their defaults and tooltips, validation (every error at once), and the conversion to the
// engine's LoraHyper / TrainHyper. Pure: no React, no store.
import { PROJECTIONS, TARGET_GROUPS, type Projection } from '../engine/model/arch';
import { DEFAULT_TRAIN, type Schedule } from '../engine/train/types';
import { packRows } from '../data/sequences';
import type { ModelSummary, StartAdapterInfo, TrainSettings } from '../worker/protocol';

export type NumberField =
  | 'loraRank'
  | 'loraAlpha'
  | 'loraDropout'
  | 'learningRate'
  | 'warmupSteps'
  | 'maxSteps'
  | 'epochs'
  | 'batchSize'
  | 'gradAccum'
  | 'maxLength'
  | 'seed'
  | 'weightDecay'
  | 'maxGradNorm'
  | 'validationExamples'
  | 'checkpointEvery';

export type TargetPreset = 'attention' | 'mlp' | 'all' | 'custom';

export interface SettingsForm {
  numbers: Record<NumberField, string>;
  targetPreset: TargetPreset;
  customTargets: Projection[];
  rslora: boolean;
  schedule: Schedule;
  checkpointing: boolean;
  /** Packing as the user set it; null = automatic (packingOf decides from the dataset). */
  packing: boolean | null;
  /**
   * The PEFT adapter the run starts from (as the worker read it), or null for a fresh one. Its
   * rank, alpha, targets and patterns are the run's; the form's LoRA fields then only show them.
   */
  startAdapter: StartAdapterInfo | null;
}

export interface FieldInfo {
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
  step: string;
}

export const FIELDS: Record<NumberField, FieldInfo> = {
  loraRank: { label: 'LoRA rank', hint: 'Rank r of the low-rank update. Higher learns more and costs more memory; 8–16 is typical.', int: true, min: 1, max: 512, step: '1' },
  loraAlpha: { label: 'LoRA alpha', hint: 'Scales the update by alpha / r (alpha / √r with rsLoRA). Often twice the rank.', int: false, min: 0, max: 4096, minExclusive: true, step: 'any' },
  loraDropout: { label: 'LoRA dropout', hint: 'Dropout on the LoRA input path while training. 0–0.1 is typical.', int: false, min: 0, max: 0.9, step: '0.01' },
  learningRate: { label: 'Learning rate', hint: 'Peak AdamW learning rate. 1e-4 to 3e-4 suits most LoRA runs on real models.', int: false, min: 0, max: 1, minExclusive: true, step: 'any' },
  warmupSteps: { label: 'Warmup steps', hint: 'Steps over which the learning rate rises linearly from 0.', int: true, min: 0, max: 1_000_000, step: '1' },
  maxSteps: { label: 'Max steps', hint: 'Optimizer steps to train for (each uses batch size × gradient accumulation sequences).', int: true, min: 1, max: 1_000_000, step: '1' },
  epochs: { label: 'Epochs', hint: 'Optional: passes over the dataset. When set, training stops after this many epochs or Max steps, whichever comes first.', int: false, min: 0, max: 1000, minExclusive: true, optional: true, step: 'any' },
  batchSize: { label: 'Batch size', hint: 'Sequences per micro-batch. Memory grows with batch size × max length.', int: true, min: 1, max: 256, step: '1' },
  gradAccum: { label: 'Gradient accumulation', hint: 'Micro-batches summed per optimizer step: a larger effective batch without more memory.', int: true, min: 1, max: 1024, step: '1' },
  maxLength: { label: 'Max length', hint: 'Tokens per sequence; longer examples are truncated.', int: true, min: 8, max: 131_072, step: '1' },
  seed: { label: 'Seed', hint: 'Seeds the LoRA initialisation, dropout and data order: the same seed repeats a run.', int: true, min: 0, max: 2 ** 31 - 1, step: '1' },
  weightDecay: { label: 'Weight decay', hint: 'Decoupled AdamW weight decay on the LoRA weights. 0 is common for LoRA.', int: false, min: 0, max: 1, step: 'any' },
  maxGradNorm: { label: 'Gradient clipping', hint: 'Clip the global gradient norm to this value; 0 turns clipping off.', int: false, min: 0, max: 1e6, step: 'any' },
  checkpointEvery: { label: 'Checkpoint every', hint: 'Save the run to this browser every N steps (and always at the end and on Stop): after a reload or a crash it resumes from there. 0 saves only at the end.', int: true, min: 0, max: 1_000_000, step: '1' },
  validationExamples: { label: 'Validation examples', hint: 'Examples held out (from the end of the dataset, at most a fifth) to measure validation loss.', int: true, min: 0, max: 100_000, step: '1' },
};

/** The architecture table's target groups (a fused family's modules are mapped at run start: familyTargets). */
export const TARGET_PRESETS: Record<Exclude<TargetPreset, 'custom'>, readonly Projection[]> = TARGET_GROUPS;

export const OTHER_HINTS = {
  targets: 'Which projections get a LoRA adapter: attention (q, k, v, o), MLP (gate, up, down), all, or a custom set.',
  rslora: 'Rank-stabilised LoRA: scale by alpha / √r instead of alpha / r, which keeps high ranks stable.',
  schedule: 'How the learning rate changes after warmup: constant, linear decay to 0, or cosine decay to 0.',
  packing: 'Put several examples in each row of Max length tokens, each attending only to itself (positions restart, no loss across the boundary): far less padding when examples are short. Automatic: on when the examples average at most half of Max length.',
  checkpointing: 'Keep only each layer’s input and recompute the rest in backward: less memory, about a third slower.',
  quantization: 'How a downloaded model is stored in the library: f32/bf16 as published, or 8-bit / 4-bit to take less disk space. Training reads the stored weights as they are: 8-bit / 4-bit matrices are dequantized inside the matmul kernels.',
} as const;

export function defaultSettings(): SettingsForm {
  const d = DEFAULT_TRAIN;
  return {
    numbers: {
      loraRank: '8',
      loraAlpha: '16',
      loraDropout: '0.05',
      learningRate: String(d.lr),
      warmupSteps: String(d.warmupSteps),
      maxSteps: String(d.maxSteps),
      epochs: '',
      batchSize: '4',
      gradAccum: String(d.gradAccum),
      maxLength: '512',
      seed: String(d.seed),
      weightDecay: String(d.weightDecay),
      maxGradNorm: String(d.maxGradNorm),
      validationExamples: '0',
      checkpointEvery: '10',
    },
    targetPreset: 'all',
    customTargets: [...PROJECTIONS],
    rslora: false,
    schedule: d.schedule,
    checkpointing: d.checkpointing,
    packing: null,
    startAdapter: null,
  };
}

/** Settings that make the random-weight demo learn visibly within 20 steps. */
export function demoSettings(): SettingsForm {
  const s = defaultSettings();
  s.numbers = { ...s.numbers, learningRate: '0.005', maxSteps: '20', maxLength: '128', batchSize: '4', loraDropout: '0', warmupSteps: '0', checkpointEvery: '5' };
  s.schedule = 'constant';
  // The demo's 20 steps are sized for the sample's padded batches (about 4 × 64 tokens); packed
  // rows of 128 would put twice the tokens in each step: a slower demo, on a CPU adapter too.
  s.packing = false;
  return s;
}

export function targetsOf(form: SettingsForm): Projection[] {
  return form.targetPreset === 'custom' ? PROJECTIONS.filter((p) => form.customTargets.includes(p)) : [...TARGET_PRESETS[form.targetPreset]];
}

export type SettingsErrors = Partial<Record<NumberField | 'targets', string>>;

export interface ValidationContext {
  /** The loaded model (its spec bounds the rank and the max length), or null. */
  model: Pick<ModelSummary, 'spec'> | null;
  /** Usable examples in the loaded dataset, or null. */
  examples: number | null;
}

/** Every problem at once, keyed by field. Empty object = valid. */
export function validateSettings(form: SettingsForm, ctx: ValidationContext): SettingsErrors {
  const errors: SettingsErrors = {};
  const values: Partial<Record<NumberField, number>> = {};
  for (const key of Object.keys(FIELDS) as NumberField[]) {
    const f = FIELDS[key];
    const raw = form.numbers[key].trim();
    if (raw === '') {
      if (!f.optional) errors[key] = `${f.label} is required`;
      continue;
    }
    const v = Number(raw);
    if (!Number.isFinite(v)) errors[key] = `${f.label} must be a number`;
    else if (f.int && !Number.isInteger(v)) errors[key] = `${f.label} must be a whole number`;
    else if (f.minExclusive ? v <= f.min : v < f.min) errors[key] = `${f.label} must be ${f.minExclusive ? 'greater than' : 'at least'} ${f.min}`;
    else if (v > f.max) errors[key] = `${f.label} must be at most ${f.max}`;
    else values[key] = v;
  }
  if (values.warmupSteps !== undefined && values.maxSteps !== undefined && values.warmupSteps >= values.maxSteps && values.warmupSteps > 0) {
    errors.warmupSteps = 'Warmup steps must be fewer than Max steps';
  }
  if (ctx.model && values.maxLength !== undefined && values.maxLength > ctx.model.spec.maxPositionEmbeddings) {
    errors.maxLength = `Max length must be at most ${ctx.model.spec.maxPositionEmbeddings} (the model's context length)`;
  }
  if (ctx.model && values.loraRank !== undefined && values.loraRank > Math.min(ctx.model.spec.hiddenSize, ctx.model.spec.intermediateSize)) {
    errors.loraRank = `LoRA rank must be at most ${Math.min(ctx.model.spec.hiddenSize, ctx.model.spec.intermediateSize)} for this model`;
  }
  if (ctx.examples !== null && values.validationExamples !== undefined && values.validationExamples > Math.floor(ctx.examples / 5)) {
    errors.validationExamples = `Validation examples must be at most ${Math.floor(ctx.examples / 5)} (a fifth of the ${ctx.examples} examples)`;
  }
  if (targetsOf(form).length === 0) errors.targets = 'Choose at least one target module';
  if (form.startAdapter) {
    // The adapter decides these (the fields only show its values).
    delete errors.loraRank;
    delete errors.loraAlpha;
    delete errors.targets;
  }
  return errors;
}

/** Examples averaging at most this fraction of Max length turn automatic packing on (two or more per row). */
export const AUTO_PACKING_FILL = 0.5;

/** Packing as the run will use it: the switch when the user set it, else on when the dataset's examples (`lengths`, before truncation) average at most AUTO_PACKING_FILL of Max length. */
export function packingOf(form: SettingsForm, lengths: ArrayLike<number> | null): boolean {
  if (form.packing !== null && form.packing !== undefined) return form.packing;
  const maxLength = Number(form.numbers.maxLength);
  if (!lengths || lengths.length === 0 || !(maxLength >= 2)) return false;
  let sum = 0;
  for (let i = 0; i < lengths.length; i++) sum += Math.min(lengths[i], maxLength);
  return sum / lengths.length <= AUTO_PACKING_FILL * maxLength;
}

/** The last packed row count (a render asks again with the same lengths and Max length). */
let packedCache: { lengths: ArrayLike<number>; maxLength: number; rows: number } | null = null;

/** Rows of the dataset's examples (`lengths`) packed into rows of maxLength: TrainingPlan's packing of one epoch. */
export function packedRowCount(lengths: ArrayLike<number>, maxLength: number): number {
  if (packedCache?.lengths !== lengths || packedCache.maxLength !== maxLength) {
    packedCache = { lengths, maxLength, rows: packRows(lengths, maxLength).length };
  }
  return packedCache.rows;
}

/** Rows of one epoch: the examples, or with packing their packed rows. */
export function rowsPerEpoch(form: SettingsForm, examples: number | null, lengths: ArrayLike<number> | null = null): number | null {
  const maxLength = Number(form.numbers.maxLength);
  if (!examples || !lengths || !packingOf(form, lengths) || !(Number.isInteger(maxLength) && maxLength >= 2)) return examples;
  return packedRowCount(lengths, maxLength);
}

/** Optimizer steps the run will take (Max steps, or fewer when Epochs is set); `lengths` (the examples' token counts) for packing's row count. */
export function plannedSteps(form: SettingsForm, examples: number | null, lengths: ArrayLike<number> | null = null): number {
  const maxSteps = Number(form.numbers.maxSteps);
  const epochs = Number(form.numbers.epochs);
  const rows = rowsPerEpoch(form, examples, lengths);
  if (!form.numbers.epochs.trim() || !rows || !(epochs > 0)) return maxSteps;
  const perStep = Number(form.numbers.batchSize) * Number(form.numbers.gradAccum);
  return Math.max(1, Math.min(maxSteps, Math.ceil((epochs * rows) / perStep)));
}

/** The form as the engine's settings. Call only when validateSettings found nothing. */
export function toTrainSettings(form: SettingsForm, examples: number | null, lengths: ArrayLike<number> | null = null): TrainSettings {
  const n = (k: NumberField): number => Number(form.numbers[k]);
  const start = form.startAdapter;
  return {
    lora: start
      ? { ...start.lora, dropout: n('loraDropout') }
      : { r: n('loraRank'), alpha: n('loraAlpha'), dropout: n('loraDropout'), targetModules: targetsOf(form), useRslora: form.rslora },
    startAdapter: start?.name ?? null,
    train: {
      ...DEFAULT_TRAIN,
      lr: n('learningRate'),
      schedule: form.schedule,
      warmupSteps: n('warmupSteps'),
      maxSteps: plannedSteps(form, examples, lengths),
      gradAccum: n('gradAccum'),
      weightDecay: n('weightDecay'),
      maxGradNorm: n('maxGradNorm'),
      seed: n('seed'),
      checkpointing: form.checkpointing,
    },
    batchSize: n('batchSize'),
    maxLength: n('maxLength'),
    packing: packingOf(form, lengths),
    checkpointEvery: n('checkpointEvery'),
    validationExamples: n('validationExamples'),
  };
}
