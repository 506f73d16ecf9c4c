// Where each studio setting goes in the exported recipe: recipe.json (what train.py reads), the
// transformers/PEFT argument it becomes, axolotl's key, and what the target cannot express. The
// Record types make a new setting a compile error until it is mapped; the settings-table test checks
// the values.
import { canonicalTargets } from '../../engine/lora/config';
import type { LoraHyper, TrainHyper } from '../../engine/train/types';
import type { TrainSettings } from '../../worker/protocol';
import type { RecipeSettings } from './settings';

export interface SettingMap {
  /** Dotted path in recipe.json, or null when the setting lives in the data or adapter_init. */
  recipe: string | null;
  /** The value the recipe carries for this setting (recipe.json's, or the data's). */
  value: (s: RecipeSettings) => unknown;
  /** The transformers / PEFT / accelerate name. */
  hf: string;
  /** axolotl's key and value, or null when axolotl cannot express it (named in the README). */
  axolotl: string | null;
  /** What differs from the studio, if anything. */
  note?: string;
}

export const SCHEDULERS = { constant: 'constant_with_warmup', linear: 'linear', cosine: 'cosine' } as const;

export const LORA_MAP: Record<keyof LoraHyper, SettingMap> = {
  r: { recipe: 'lora.r', value: (s) => s.lora.r, hf: 'LoraConfig.r (adapter_init/adapter_config.json)', axolotl: 'lora_r' },
  alpha: { recipe: 'lora.lora_alpha', value: (s) => s.lora.alpha, hf: 'LoraConfig.lora_alpha', axolotl: 'lora_alpha' },
  dropout: {
    recipe: 'lora.lora_dropout',
    value: (s) => s.lora.dropout,
    hf: 'LoraConfig.lora_dropout',
    axolotl: 'lora_dropout',
    note: "same rate; the masks come from torch's generator, not the studio's, so with dropout > 0 losses match only in distribution",
  },
  targetModules: { recipe: 'lora.target_modules', value: (s) => canonicalTargets(s.lora.targetModules), hf: 'LoraConfig.target_modules', axolotl: 'lora_target_modules' },
  useRslora: { recipe: 'lora.use_rslora', value: (s) => s.lora.useRslora, hf: 'LoraConfig.use_rslora', axolotl: 'peft_use_rslora' },
  rankPattern: { recipe: 'lora.rank_pattern', value: (s) => ({ ...s.lora.rankPattern }), hf: 'LoraConfig.rank_pattern', axolotl: null, note: 'axolotl has no rank_pattern key; its lora_model_dir: adapter_init carries it' },
  alphaPattern: { recipe: 'lora.alpha_pattern', value: (s) => ({ ...s.lora.alphaPattern }), hf: 'LoraConfig.alpha_pattern', axolotl: null, note: 'as rank_pattern' },
  layersToTransform: {
    recipe: 'lora.layers_to_transform',
    value: (s) => (s.lora.layersToTransform ? [...s.lora.layersToTransform] : null),
    hf: 'LoraConfig.layers_to_transform',
    axolotl: 'peft_layers_to_transform',
  },
};

export const TRAIN_MAP: Record<keyof TrainHyper, SettingMap> = {
  lr: { recipe: 'trainer.learning_rate', value: (s) => s.train.lr, hf: 'TrainingArguments.learning_rate', axolotl: 'learning_rate' },
  schedule: {
    recipe: 'trainer.schedule',
    value: (s) => s.train.schedule,
    hf: `TrainingArguments.lr_scheduler_type (${Object.entries(SCHEDULERS).map(([k, v]) => `${k} → ${v}`).join(', ')})`,
    axolotl: 'lr_scheduler',
  },
  warmupSteps: { recipe: 'trainer.warmup_steps', value: (s) => s.train.warmupSteps, hf: 'TrainingArguments.warmup_steps', axolotl: 'warmup_steps' },
  maxSteps: { recipe: 'trainer.max_steps', value: (s) => s.train.maxSteps, hf: 'TrainingArguments.max_steps (one Trainer item = one optimizer step)', axolotl: 'max_steps' },
  gradAccum: {
    recipe: 'trainer.micro_batches_per_step',
    value: (s) => s.train.gradAccum,
    hf: "micro-batches of each step in data/train.jsonl, accumulated in StudioTrainer.training_step (Trainer's gradient_accumulation_steps stays 1)",
    axolotl: 'gradient_accumulation_steps',
  },
  beta1: { recipe: 'trainer.adam_beta1', value: (s) => s.train.beta1, hf: 'TrainingArguments.adam_beta1 (optim adamw_torch)', axolotl: 'adam_beta1' },
  beta2: { recipe: 'trainer.adam_beta2', value: (s) => s.train.beta2, hf: 'TrainingArguments.adam_beta2', axolotl: 'adam_beta2' },
  eps: { recipe: 'trainer.adam_epsilon', value: (s) => s.train.eps, hf: 'TrainingArguments.adam_epsilon', axolotl: 'adam_epsilon' },
  weightDecay: { recipe: 'trainer.weight_decay', value: (s) => s.train.weightDecay, hf: 'TrainingArguments.weight_decay', axolotl: 'weight_decay' },
  maxGradNorm: { recipe: 'trainer.max_grad_norm', value: (s) => s.train.maxGradNorm, hf: 'TrainingArguments.max_grad_norm (0 → None: no clipping)', axolotl: 'max_grad_norm' },
  seed: {
    recipe: 'trainer.seed',
    value: (s) => s.train.seed,
    hf: 'TrainingArguments.seed / set_seed (the order and init are already in data/ and adapter_init/)',
    axolotl: 'seed',
  },
  checkpointing: { recipe: 'trainer.gradient_checkpointing', value: (s) => s.train.checkpointing, hf: 'TrainingArguments.gradient_checkpointing', axolotl: 'gradient_checkpointing' },
  method: { recipe: 'trainer.method', value: (s) => s.train.method, hf: "train.py's preference_loss: TRL's DPO (loss_type sigmoid), IPO, ORPO", axolotl: 'rl' },
  beta: { recipe: 'trainer.beta', value: (s) => s.train.beta, hf: 'DPOConfig.beta / ORPOConfig.beta', axolotl: 'rl_beta (ORPO: orpo_alpha)' },
};

/** The job's other settings (RecipeSettings beside lora and train). */
export const JOB_MAP: Record<Exclude<keyof RecipeSettings, 'lora' | 'train'>, SettingMap> = {
  batchSize: { recipe: 'data.batch_size', value: (s) => s.batchSize, hf: 'rows per micro-batch in data/train.jsonl, split over processes (rows rank::world)', axolotl: 'micro_batch_size' },
  maxLength: { recipe: 'data.max_length', value: (s) => s.maxLength, hf: 'truncation already applied in data/*.jsonl', axolotl: 'sequence_len' },
  maxPromptLength: { recipe: 'data.max_prompt_length', value: (s) => s.maxPromptLength ?? null, hf: "preference data: TRL's max_prompt_length", axolotl: 'max_prompt_len' },
  maxSteps: { recipe: 'data.max_steps', value: (s) => s.maxSteps ?? null, hf: 'TrainingArguments.max_steps (the plan length)', axolotl: 'max_steps' },
  epochs: { recipe: 'data.epochs', value: (s) => s.epochs, hf: 'epochs are unrolled into the steps of data/train.jsonl', axolotl: 'num_epochs' },
  valFraction: { recipe: 'data.val_fraction', value: (s) => s.valFraction, hf: 'the held-out rows are data/validation.jsonl', axolotl: 'val_set_size' },
  format: { recipe: 'data.format', value: (s) => s.format, hf: 'the source file was formatted and tokenized by the studio', axolotl: null, note: 'axolotl trains on the pretokenized rows' },
  packing: {
    recipe: 'data.packing',
    value: (s) => s.packing,
    hf: "the studio's packed micro-batches, each packed row written as its examples (the same targets)",
    axolotl: 'sample_packing',
  },
  skipInvalid: { recipe: 'data.skip_invalid', value: (s) => s.skipInvalid, hf: 'invalid records were skipped by the studio', axolotl: null, note: 'axolotl trains on the pretokenized rows' },
};

/** Every mapped setting, named as the studio names it (lora.r, train.lr, batchSize...). */
export function allMappings(): Array<[string, SettingMap]> {
  return [
    ...Object.entries(LORA_MAP).map(([k, m]) => [`lora.${k}`, m] as [string, SettingMap]),
    ...Object.entries(TRAIN_MAP).map(([k, m]) => [`train.${k}`, m] as [string, SettingMap]),
    ...Object.entries(JOB_MAP).map(([k, m]) => [k, m] as [string, SettingMap]),
  ];
}

/** Where each field of the studio's run settings (src/worker/protocol.ts TrainSettings) goes in a recipe. */
export const STUDIO_SETTINGS: Record<keyof TrainSettings, string> = {
  lora: 'LORA_MAP (adapter_init/adapter_config.json and recipe.json lora.*)',
  startAdapter: '--init-adapter: the adapter becomes adapter_init/',
  train: 'TRAIN_MAP (recipe.json trainer.*)',
  batchSize: 'JOB_MAP batchSize',
  maxLength: 'JOB_MAP maxLength',
  maxPromptLength: 'JOB_MAP maxPromptLength',
  packing: 'JOB_MAP packing',
  checkpointEvery: 'train.py --save-steps N',
  validationExamples: 'JOB_MAP valFraction (the held-out rows are data/validation.jsonl)',
};
