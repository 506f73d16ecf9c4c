// Training settings as the form holds them (numbers as typed text, so "0." survives typing),
// their defaults and tooltips (the run-settings schema's, src/settings/run-settings.ts), validation (every error at once), and the conversion to the
// engine's LoraHyper / TrainHyper. Pure: no React, no store.
import { PROJECTIONS, type Projection } from '../engine/model/arch';
import { DEFAULT_TRAIN, type Method, type Schedule } from '../engine/train/types';
import {
  DEFAULT_NUMBERS, METHOD_INFO, NUMBER_SETTINGS, OTHER_SETTINGS, TARGET_GROUPS, maxValidationExamples, methodDataProblem, numberProblem, type NumberField, type NumberSetting,
} from '../settings/run-settings';
import { packRows } from '../data/sequences';
import type { DatasetSummary, ModelSummary, StartAdapterInfo, TrainSettings } from '../worker/protocol';

export type { NumberField };

export type TargetPreset = 'attention' | 'mlp' | 'all' | 'custom';

export interface SettingsForm {
  numbers: Record<NumberField, string>;
  targetPreset: TargetPreset;
  customTargets: Projection[];
  rslora: boolean;
  schedule: Schedule;
  /** The objective (SFT or a preference method); absent in forms saved before it = SFT. */
  method?: Method;
  checkpointing: boolean;
  /** Packing as the user set it; null = automatic (packingOf decides from the dataset). */
  packing: boolean | null;
  /**
   * The PEFT adapter the run starts from (as the worker read it), or null for a fresh one. Its
   * rank, alpha, targets and patterns are the run's; the form's LoRA fields then only show them.
   */
  startAdapter: StartAdapterInfo | null;
}

export type FieldInfo = NumberSetting;

/** The page's numeric fields: the run-settings schema's. */
export const FIELDS: Record<NumberField, FieldInfo> = NUMBER_SETTINGS;

/** The architecture table's target groups (a fused family's modules are mapped at run start: familyTargets). */
export const TARGET_PRESETS: Record<Exclude<TargetPreset, 'custom'>, readonly Projection[]> = TARGET_GROUPS;

export const OTHER_HINTS = {
  targets: OTHER_SETTINGS.targets.hint,
  rslora: OTHER_SETTINGS.rslora.hint,
  schedule: OTHER_SETTINGS.schedule.hint,
  packing: OTHER_SETTINGS.packing.hint,
  checkpointing: OTHER_SETTINGS.checkpointing.hint,
  method: OTHER_SETTINGS.method.hint,
  quantization: 'How a downloaded model is stored in the library: f32/bf16 as published, or 8-bit / 4-bit to take less disk space. Training reads the stored weights as they are: 8-bit / 4-bit matrices are dequantized inside the matmul kernels.',
} as const;

export function defaultSettings(): SettingsForm {
  const d = DEFAULT_TRAIN;
  return {
    numbers: { ...DEFAULT_NUMBERS },
    method: d.method,
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

export type SettingsErrors = Partial<Record<NumberField | 'targets' | 'method', string>>;

/** The form's method (forms saved before it: SFT) and whether it trains on preference pairs. */
export const methodOf = (form: SettingsForm): Method => form.method ?? DEFAULT_TRAIN.method;
export const isPreferenceForm = (form: SettingsForm): boolean => METHOD_INFO[methodOf(form)].preference;

/** The loaded dataset is preference pairs (true), SFT examples (false), or none is loaded (null). */
export function preferenceDataOf(summary: DatasetSummary | null): boolean | null {
  return summary ? summary.format === 'preference' : null;
}

/** Settings that only a preference method reads (the page shows them only then). */
export const PREFERENCE_FIELDS: readonly NumberField[] = ['beta', 'maxPromptLength'];

export interface ValidationContext {
  /** The loaded model (its spec bounds the rank and the max length), or null. */
  model: Pick<ModelSummary, 'spec'> | null;
  /** Usable examples in the loaded dataset, or null. */
  examples: number | null;
  /** The loaded dataset is preference pairs (true) or SFT examples (false); null/absent when none is loaded. */
  preferenceData?: boolean | null;
}

/** Every problem at once, keyed by field. Empty object = valid. */
export function validateSettings(form: SettingsForm, ctx: ValidationContext): SettingsErrors {
  const errors: SettingsErrors = {};
  const values: Partial<Record<NumberField, number>> = {};
  const preference = isPreferenceForm(form);
  for (const key of Object.keys(FIELDS) as NumberField[]) {
    // Beta and Max prompt length are hidden and unused for SFT: they cannot block an SFT run.
    if (!preference && PREFERENCE_FIELDS.includes(key)) continue;
    const f = FIELDS[key];
    const raw = form.numbers[key].trim();
    if (raw === '') {
      if (!f.optional) errors[key] = `${f.label} is required`;
      continue;
    }
    const v = Number(raw);
    const problem = numberProblem(key, v);
    if (problem) errors[key] = problem;
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
  if (ctx.examples !== null && values.validationExamples !== undefined && values.validationExamples > maxValidationExamples(ctx.examples)) {
    errors.validationExamples = `Validation examples must be at most ${maxValidationExamples(ctx.examples)} (a fifth of the ${ctx.examples} examples)`;
  }
  if (targetsOf(form).length === 0) errors.targets = 'Choose at least one target module';
  if (preference && values.maxPromptLength !== undefined && values.maxLength !== undefined && values.maxPromptLength >= values.maxLength) {
    errors.maxPromptLength = `Max prompt length must be below Max length (${values.maxLength}): the completions need room`;
  }
  const mismatch = ctx.preferenceData === true || ctx.preferenceData === false ? methodDataProblem(methodOf(form), ctx.preferenceData) : null;
  if (mismatch) errors.method = mismatch;
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
  // A preference pair's two sequences each take a row of their own (TrainingPlan refuses packing them).
  if (isPreferenceForm(form)) return false;
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
      method: methodOf(form),
      beta: isPreferenceForm(form) ? n('beta') : DEFAULT_TRAIN.beta,
    },
    batchSize: n('batchSize'),
    maxLength: n('maxLength'),
    ...(isPreferenceForm(form) && form.numbers.maxPromptLength?.trim() ? { maxPromptLength: n('maxPromptLength') } : {}),
    packing: packingOf(form, lengths),
    checkpointEvery: n('checkpointEvery'),
    validationExamples: n('validationExamples'),
  };
}
