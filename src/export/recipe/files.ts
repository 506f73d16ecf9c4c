// The text files of a recipe folder: recipe.json (every value train.py reads), accelerate.yaml,
// axolotl.yaml and README.md. yaml's stringify writes the YAML so that quoting is always right.
import { stringify } from 'yaml';
import { canonicalTargets } from '../../engine/lora/config';
import { allMappings, SCHEDULERS } from './mapping';
import type { RecipeJob, RecipeSettings } from './settings';
import type { HubDatasetSource } from '../../hub/datasets';

export interface RecipeFacts {
  /** base_model_name_or_path train.py loads: the Hub id, else the model folder. */
  baseModel: string;
  revision: string | null;
  padId: number;
  /** The data file copied into data/ (null for a Hub dataset). */
  sourceFile: string | null;
  /** The Hub dataset's split the data came from (named, not copied). */
  hubDataset: HubDatasetSource | null;
  trainExamples: number;
  validationExamples: number;
  stepsPerEpoch: number;
  /** Where adapter_init came from: 'fresh (seed N)', the --init-adapter path, or the --from-run run. */
  adapterInit: string;
  /** Optimizer steps already done (a --from-run run's step; else 0): data/train.jsonl starts there. */
  startStep: number;
  /** The AdamW state file train.py loads (a --from-run run's), else null. */
  optimizerState: string | null;
  /** PEFT's target_modules as the model's family names them (Phi-3: qkv_proj / gate_up_proj for q/k/v and gate/up). */
  targetModules: string[];
}

export type { HubDatasetSource };

/** The `datasets` line that loads a Hub split (Python). */
export function loadDatasetLine(h: HubDatasetSource): string {
  return `load_dataset(${JSON.stringify(h.id)}, ${JSON.stringify(h.config)}, split=${JSON.stringify(h.split)}, revision=${JSON.stringify(h.revision)})`;
}

export function recipeJson(s: RecipeSettings, f: RecipeFacts): object {
  return {
    format: 'lora-studio-recipe',
    version: 1,
    model: { name_or_path: f.baseModel, revision: f.revision, dtype: 'float32' },
    lora: {
      r: s.lora.r,
      lora_alpha: s.lora.alpha,
      lora_dropout: s.lora.dropout,
      target_modules: f.targetModules,
      use_rslora: s.lora.useRslora,
      rank_pattern: { ...s.lora.rankPattern },
      alpha_pattern: { ...s.lora.alphaPattern },
      layers_to_transform: s.lora.layersToTransform ? [...s.lora.layersToTransform] : null,
      init: f.adapterInit,
    },
    trainer: {
      learning_rate: s.train.lr,
      schedule: s.train.schedule,
      lr_scheduler_type: SCHEDULERS[s.train.schedule],
      warmup_steps: s.train.warmupSteps,
      max_steps: s.train.maxSteps,
      start_step: f.startStep,
      optimizer_state: f.optimizerState,
      micro_batches_per_step: s.train.gradAccum,
      adam_beta1: s.train.beta1,
      adam_beta2: s.train.beta2,
      adam_epsilon: s.train.eps,
      weight_decay: s.train.weightDecay,
      max_grad_norm: s.train.maxGradNorm,
      seed: s.train.seed,
      gradient_checkpointing: s.train.checkpointing,
      method: s.train.method,
      beta: s.train.beta,
    },
    data: {
      source: f.sourceFile,
      hub_dataset: f.hubDataset,
      batch_size: s.batchSize,
      max_length: s.maxLength,
      max_prompt_length: s.maxPromptLength ?? null,
      max_steps: s.maxSteps ?? null,
      epochs: s.epochs,
      val_fraction: s.valFraction,
      format: s.format,
      skip_invalid: s.skipInvalid,
      packing: s.packing,
      pad_id: f.padId,
      train_examples: f.trainExamples,
      validation_examples: f.validationExamples,
      steps_per_epoch: f.stepsPerEpoch,
    },
  };
}

/** accelerate's config for one machine, DDP on every GPU (num_processes is overridden on the command line). */
export function accelerateYaml(): string {
  return (
    '# accelerate launch --config_file accelerate.yaml --num_processes N train.py\n' +
    '# FSDP: distributed_type: FSDP with an fsdp_config; DeepSpeed ZeRO: distributed_type: DEEPSPEED (see README.md).\n' +
    stringify({
      compute_environment: 'LOCAL_MACHINE',
      distributed_type: 'MULTI_GPU',
      num_machines: 1,
      machine_rank: 0,
      num_processes: 2,
      gpu_ids: 'all',
      mixed_precision: 'no',
      downcast_bf16: 'no',
      main_training_function: 'main',
      rdzv_backend: 'static',
      same_network: true,
      use_cpu: false,
    })
  );
}

/** The nearest axolotl config: the same adapter, optimizer and schedule on the same tokenized rows. */
export function axolotlYaml(s: RecipeSettings, f: RecipeFacts): string {
  const cfg: Record<string, unknown> = {
    base_model: f.baseModel,
    ...(f.revision ? { revision_of_model: f.revision } : {}),
    adapter: 'lora',
    lora_model_dir: './adapter_init',
    lora_r: s.lora.r,
    lora_alpha: s.lora.alpha,
    lora_dropout: s.lora.dropout,
    lora_target_modules: f.targetModules,
    peft_use_rslora: s.lora.useRslora,
    ...(s.lora.layersToTransform ? { peft_layers_to_transform: [...s.lora.layersToTransform] } : {}),
    datasets: [{ path: './data/train.jsonl', ds_type: 'json' }],
    test_datasets: f.validationExamples ? [{ path: './data/validation.jsonl', ds_type: 'json', split: 'train' }] : undefined,
    shuffle_merged_datasets: false,
    sample_packing: s.packing,
    sequence_len: s.maxLength,
    micro_batch_size: s.batchSize,
    gradient_accumulation_steps: s.train.gradAccum,
    max_steps: s.train.maxSteps,
    optimizer: 'adamw_torch',
    adam_beta1: s.train.beta1,
    adam_beta2: s.train.beta2,
    adam_epsilon: s.train.eps,
    weight_decay: s.train.weightDecay,
    max_grad_norm: s.train.maxGradNorm,
    learning_rate: s.train.lr,
    lr_scheduler: SCHEDULERS[s.train.schedule],
    warmup_steps: s.train.warmupSteps,
    seed: s.train.seed,
    gradient_checkpointing: s.train.checkpointing,
    // A preference run: axolotl's rl section (TRL's trainers; it rebuilds the pairs from the rows).
    ...(s.train.method === 'sft' ? {} : { rl: s.train.method, ...(s.train.method === 'orpo' ? { orpo_alpha: s.train.beta } : { rl_beta: s.train.beta }) }),
    bf16: false,
    fp16: false,
    tf32: false,
    output_dir: './output-axolotl',
  };
  const header = [
    '# axolotl train axolotl.yaml  (the nearest axolotl job; train.py is the exact one)',
    '# axolotl cannot express: the studio step order (it builds its own batches from the rows), the studio',
    '# loss normalisation across the accumulated step, rank_pattern / alpha_pattern (kept only through',
    '# lora_model_dir: ./adapter_init). See README.md.',
  ].join('\n');
  return `${header}\n${stringify(Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)))}`;
}

/** The `cli train` line of the same job (its --format is this command's --data-format). */
export function trainCommand(job: RecipeJob): string {
  const s = job.settings;
  const flags: Array<[string, unknown]> = [
    ['model', job.modelDir], ['data', job.dataFile], ...(job.hubEndpoint ? ([['hub-endpoint', job.hubEndpoint]] as Array<[string, unknown]>) : []), job.fromRun ? ['resume', job.fromRun.from] : ['out', 'studio-adapter'],
    ...(job.initAdapter !== undefined
      ? ([['init-adapter', job.initAdapter]] as Array<[string, unknown]>)
      : ([['rank', s.lora.r], ['alpha', s.lora.alpha], ['targets', canonicalTargets(s.lora.targetModules).join(',')]] as Array<[string, unknown]>)),
    ['dropout', s.lora.dropout], ['lr', s.train.lr], ['schedule', s.train.schedule], ['warmup', s.train.warmupSteps],
    s.maxSteps !== undefined ? ['max-steps', s.maxSteps] : ['epochs', s.epochs],
    ['batch-size', s.batchSize], ['grad-accum', s.train.gradAccum], ['max-length', s.maxLength], ['seed', s.train.seed],
    ['weight-decay', s.train.weightDecay], ['max-grad-norm', s.train.maxGradNorm], ['val-fraction', s.valFraction],
    ...(s.train.method !== 'sft' ? ([['method', s.train.method], ['beta', s.train.beta]] as Array<[string, unknown]>) : []),
    ...(s.maxPromptLength !== undefined ? ([['max-prompt-length', s.maxPromptLength]] as Array<[string, unknown]>) : []),
    ...(s.format !== 'auto' ? ([['format', s.format]] as Array<[string, unknown]>) : []),
  ];
  const bools = [...(s.lora.useRslora && job.initAdapter === undefined ? ['--rslora'] : []), ...(s.skipInvalid ? ['--skip-invalid'] : [])];
  return ['npm run --silent cli -- train', ...flags.map(([k, v]) => `--${k} ${String(v)}`), ...bools].join(' ');
}

function cell(v: unknown): string {
  return `\`${JSON.stringify(v) ?? 'null'}\``.replace(/\|/g, '\\|');
}

export function readme(job: RecipeJob, f: RecipeFacts): string {
  const s = job.settings;
  const rows = allMappings().map(([name, m]) => `| ${name} | ${cell(m.value(s))} | ${m.recipe ? `\`${m.recipe}\`` : ''} | ${m.hf} | ${m.axolotl ?? 'not expressible'} | ${m.note ?? ''} |`);
  return `# LoRA Studio job for a cluster

Base model: \`${f.baseModel}\`${f.revision ? ` at revision \`${f.revision}\`` : ''} (f32). Initial adapter: ${f.adapterInit}.
Data: ${f.trainExamples} training examples, ${f.validationExamples} held out; ${s.train.maxSteps} optimizer steps
(${f.stepsPerEpoch} per epoch) of ${s.train.gradAccum} micro-batch(es) of up to ${s.batchSize} rows.${
    f.startStep > 0
      ? `\nContinued run: steps 0–${f.startStep - 1} are done; train.py runs steps ${f.startStep}–${s.train.maxSteps - 1}
(data/train.jsonl holds only those, under their step numbers) from the run's AdamW moments and step
(\`adapter_init/optimizer.safetensors\`), on the schedule of all ${s.train.maxSteps} steps.`
      : ''
  }

## Run it

\`\`\`sh
pip install torch transformers peft accelerate
accelerate launch --config_file accelerate.yaml --num_processes 8 train.py --output-dir output   # DDP on 8 GPUs
torchrun --nproc_per_node 2 train.py --cpu --max-steps 5                                           # CPU, 2 processes, gloo
accelerate launch --config_file accelerate.yaml train.py --save-steps 50 --resume output/checkpoint-50
axolotl train axolotl.yaml                                                                          # the nearest axolotl job
\`\`\`

\`output/adapter/\` is a PEFT adapter: LoRA Studio's "Start from an adapter" reads it (and "Try it"
compares it). \`output/losses.json\` holds the loss of every step, computed as the studio computes it.

## Check it against the studio

With dropout 0 the losses of \`output/losses.json\` are the studio's, step for step (f32). ${
    job.fromStudio
      ? 'Compare them with the loss chart of the run this folder was exported from.'
      : `The studio's side of the same job, on the same model folder:\n\n\`\`\`sh\n${trainCommand(job)}\n\`\`\``
  }

## What is in this folder

- \`data/train.jsonl\`: every row of every optimizer step, in the studio's order and truncation:
  \`{"step", "micro", "input_ids", "labels"}\` (labels not shifted, -100 where the loss is masked;
  position t predicts labels[t+1]). Epochs are unrolled (each epoch in its own seeded order).
- \`data/validation.jsonl\`: the held-out rows \`{"batch", "input_ids", "labels"}\` in the studio's batches.
${f.sourceFile !== null ? `- \`data/${f.sourceFile}\`: the source file, for those who re-tokenize.` : `- The source data is the Hub dataset \`${f.hubDataset!.id}\` (config \`${f.hubDataset!.config}\`, split \`${f.hubDataset!.split}\`, commit \`${f.hubDataset!.revision}\`), named in recipe.json's \`data.hub_dataset\`, not copied: \`python train.py --source\` loads it with \`${loadDatasetLine(f.hubDataset!)}\` for those who re-tokenize.`}
- \`adapter_init/\`: the studio's initial adapter (PEFT files); train.py loads it with
  \`PeftModel.from_pretrained(..., is_trainable=True)\`, so r, alpha, dropout, targets, rsLoRA, patterns,
  layers and the initial A and B are the studio's.
- \`adapter_init/optimizer.safetensors\` (a continued run only): AdamW's \`exp_avg\` and \`exp_avg_sq\` of
  every LoRA tensor, named \`<PEFT tensor name>.exp_avg\` / \`.exp_avg_sq\` (f32), and the steps done in
  its metadata (\`step\`); train.py puts them in torch.optim.AdamW's state and starts the learning-rate
  schedule at that step.
- \`recipe.json\`: every value train.py reads. \`train.py\`, \`accelerate.yaml\`, \`axolotl.yaml\`.

## Loss normalisation

The studio's loss of a step is the sum of the token cross-entropies of every micro-batch of the step
divided by the number of trained tokens of the whole step (labels[t+1] != -100). train.py does exactly
that on any number of processes: each process takes rows rank::world of each micro-batch, scales its
sum by world / (tokens of the step), and DDP's gradient average restores sum / tokens.
transformers' default differs: before 4.46 it averages each micro-batch's token mean over the
accumulation steps (micro-batches with fewer tokens weigh more); from 4.46 it divides by the tokens of
the accumulated batch on each device, and across devices only with \`average_tokens_across_devices\`.
The validation loss is the studio's too: the mean over validation batches of each batch's token mean.

## Settings

| studio setting | value | recipe.json | transformers / PEFT | axolotl | differs |
|---|---|---|---|---|---|
${rows.join('\n')}

## What the targets cannot express

- **Dropout masks**: train.py uses the same rate, but torch draws the masks; with dropout > 0 losses
  match the studio's only in distribution (with dropout 0 they match step for step).
- **Base weights quantized to int8/int4** (\`train --quant\`): the studio's block formats have no
  transformers equivalent; the recipe trains on the f32 base (bitsandbytes would be a different model).
- **axolotl**: it builds its own batches from the rows (its sampler, its padding, its split across
  GPUs), normalises the loss its own way, and has no rank_pattern / alpha_pattern keys (they come with
  \`lora_model_dir: ./adapter_init\`); its \`val_set_size\` is replaced by the studio's held-out file.
  axolotl.yaml points at the pretokenized rows (\`input_ids\`, \`labels\`, plus \`step\`/\`micro\` it
  ignores); versions that want an \`attention_mask\` column need one of ones added.
- **DeepSpeed ZeRO**: set \`distributed_type: DEEPSPEED\` in accelerate.yaml; with more than one
  micro-batch per step, check the first losses against \`losses.json\` of a DDP run (DeepSpeed manages
  accumulation itself). FSDP needs no change to train.py.
`;
}
