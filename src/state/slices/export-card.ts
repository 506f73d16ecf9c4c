// The README.md model card that goes into the adapter .zip and the Hub push: what was trained on
// what, how, and how to load it; pushed, also the folders of the exports built on the page.
// Pure (no store, no DOM) so it is unit-tested as text.
import { formatBytes } from '../../util/format-bytes';
import { dataFormatName } from '../../data/formats';
import type { HubDatasetSource } from '../../hub/datasets';
import type { ModelSummary, TrainResult, TrainSettings } from '../../worker/protocol';
import { METHOD_INFO } from '../../settings/run-settings';
import type { TrainHyper } from '../../engine/train/types';

export interface ModelCardInput {
  model: Pick<ModelSummary, 'name' | 'hubId' | 'randomWeights' | 'quant'>;
  settings: TrainSettings;
  dataset: {
    fileName: string;
    /** The file's size in bytes (never its content). */
    fileBytes?: number;
    /** The Hub dataset split the data came from: the card names it (id, config, split, commit). */
    hub?: HubDatasetSource | null;
    format: string;
    examples: number;
    tokens: number;
    trainedTokens: number;
    /** Examples longer than the run's max length (cut to it). */
    truncated?: number;
    /** Examples the run held out for validation (0 = none), and where they came from. */
    validation: { examples: number; source: 'split' | 'file'; fileName?: string } | null;
    /** What the loss was computed on. */
    trainOn: 'assistant' | 'all';
  } | null;
  result: TrainResult | null;
  /** The repository pushed to ("owner/name"), for the loading lines of the folders pushed beside the adapter. */
  repoId?: string;
  /** Exports built on the page and pushed beside the adapter, each in its folder (hub-push.ts). */
  extras?: { folder: string; what: BuiltExport }[];
  /** The training loss by step (and the validation loss where measured), for the card's table. */
  losses?: LossPoint[];
  date: Date;
}

/** What an export built on the page is: a GGUF (the model merged, or the adapter) or the web (ONNX) folder in a Transformers.js dtype. */
export type BuiltExport = { kind: 'gguf'; merged: boolean } | { kind: 'onnx'; dtype: string };

export interface LossPoint {
  step: number;
  loss: number;
  val: number | null;
}

/** The card's method line: SFT, or the preference method with its beta and what it is measured against. */
export function methodLine(t: Pick<TrainHyper, 'method' | 'beta'>): string {
  const method = t.method ?? 'sft';
  const info = METHOD_INFO[method];
  if (method === 'sft') return `${info.label} (supervised fine-tuning)`;
  if (method === 'orpo') return `${info.label} (preference pairs), beta (lambda, the odds-ratio term's weight) ${t.beta}; no reference model`;
  return `${info.label} (preference pairs), beta ${t.beta}; reference: the base model without any adapter`;
}

/** Rows of the card's loss table: at most `max`, evenly spread, the first and last step always. */
export function lossRows(points: readonly LossPoint[], max = 20): LossPoint[] {
  if (points.length <= max) return points.slice();
  const out: LossPoint[] = [];
  for (let k = 0; k < max; k++) out.push(points[Math.round((k * (points.length - 1)) / (max - 1))]);
  return out;
}

const loss = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(4));
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

/** vLLM accepts only these max_lora_rank values; the adapter's rank must not exceed the one given. */
const VLLM_LORA_RANKS = [8, 16, 32, 64, 128, 256, 320, 512];
export function vllmMaxLoraRank(r: number): number {
  return VLLM_LORA_RANKS.find((x) => x >= r) ?? r;
}

/** A YAML scalar in double quotes (JSON strings are valid YAML). */
const yamlString = (s: string): string => JSON.stringify(s);

function extraWords(x: BuiltExport): string {
  if (x.kind === 'onnx') return `the base model with this adapter for the web: \`config.json\`, the tokenizer files and \`onnx/\`, as Transformers.js (\`@huggingface/transformers\`) loads them with onnxruntime-web (dtype ${code(x.dtype)})`;
  return x.merged
    ? 'the base model with this adapter merged in, as GGUF for llama.cpp, Ollama and LM Studio (with an Ollama `Modelfile` and a README of the commands)'
    : "this adapter as GGUF for llama.cpp's `--lora` and Ollama's `ADAPTER` (with an Ollama `Modelfile` and a README of the commands)";
}

/**
 * How Transformers.js loads the ONNX folder from the Hub. Its `subfolder` option moves only the
 * .onnx files: config.json and the tokenizer are read from the path the Hub template names, so the
 * template names the folder.
 */
function transformersJs(folder: string, dtype: string, repoId: string): string[] {
  const repo = `'${repoId}'`; // the Hub's repository names hold no quotes (push.ts)
  return [
    `## Use in the browser (Transformers.js): ${code(`${folder}/`)}`,
    '',
    `${code(`${folder}/`)} holds the base model with this adapter as an ONNX decoder, with its own \`config.json\` and tokenizer. Transformers.js's \`subfolder\` option moves only the \`.onnx\` files, so point the Hub path at the folder:`,
    '',
    '```js',
    "import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';",
    '',
    `env.remotePathTemplate = '{model}/resolve/{revision}/${folder}/';`,
    `const tokenizer = await AutoTokenizer.from_pretrained(${repo});`,
    `const model = await AutoModelForCausalLM.from_pretrained(${repo}, { dtype: '${dtype}' });`,
    "env.remotePathTemplate = '{model}/resolve/{revision}/'; // back to the default for other models",
    '```',
    '',
    'A private repository needs your token (Node: `HF_TOKEN`); in the page, make it public or serve the downloaded folder yourself (`env.localModelPath`).',
    '',
  ];
}

export function modelCard(c: ModelCardInput): string {
  const { settings: s, model: m, dataset: d, result: r } = c;
  const base = m.hubId;
  const baseText = base ? code(base) : `${m.name} (no Hugging Face id: load it from its local folder)`;
  const date = c.date.toISOString().slice(0, 10);
  const lines: string[] = [];
  lines.push('---');
  if (base) lines.push(`base_model: ${yamlString(base)}`);
  if (d?.hub) lines.push('datasets:', `  - ${yamlString(d.hub.id)}`);
  const extras = c.extras ?? [];
  const onnx = extras.filter((x) => x.what.kind === 'onnx');
  lines.push('library_name: peft');
  lines.push('tags:', '  - lora', '  - peft', '  - lora-studio');
  const method = s.train.method ?? 'sft';
  // TRL's cards tag a preference run with its trainer's name (dpo, orpo); IPO is DPO's loss_type.
  if (method !== 'sft') lines.push(`  - ${method === 'ipo' ? 'dpo' : method}`);
  if (onnx.length) lines.push('  - onnx', '  - transformers.js');
  if (extras.some((x) => x.what.kind === 'gguf')) lines.push('  - gguf');
  lines.push('---', '');
  lines.push(`# LoRA adapter for ${base ?? m.name}`, '');
  lines.push(`A LoRA adapter trained with LoRA Studio on ${date}, in the browser with WebGPU.`, '');
  if (m.randomWeights) lines.push('> The base model is the LoRA Studio demo model, with **random weights**: this adapter is a demonstration, not a useful model.', '');

  lines.push('## Files', '');
  lines.push('- `adapter_model.safetensors`: the LoRA weights (PEFT names, f32)');
  lines.push('- `adapter_config.json`: the PEFT configuration');
  lines.push('- `README.md`: this card');
  for (const x of extras) lines.push(`- ${code(`${x.folder}/`)}: ${extraWords(x.what)}`);
  lines.push('');

  lines.push('## Base model', '');
  lines.push(`- Model: ${baseText}`);
  if (m.quant && m.quant !== 'none') lines.push(`- Trained against the base weights stored as ${m.quant}`);
  lines.push('');

  lines.push('## LoRA', '');
  lines.push(`- Rank (r): ${s.lora.r}`);
  lines.push(`- Alpha: ${s.lora.alpha}${s.lora.useRslora ? ' (rsLoRA: scaled by alpha / √r)' : ''}`);
  lines.push(`- Dropout: ${s.lora.dropout}`);
  lines.push(`- Target modules: ${s.lora.targetModules.map(code).join(', ')}`);
  if (s.lora.rankPattern) lines.push(`- Rank pattern: ${code(JSON.stringify(s.lora.rankPattern))}`);
  if (s.lora.alphaPattern) lines.push(`- Alpha pattern: ${code(JSON.stringify(s.lora.alphaPattern))}`);
  if (s.lora.layersToTransform) lines.push(`- Layers: ${s.lora.layersToTransform.join(', ')}`);
  if (s.startAdapter) lines.push(`- Continued from the adapter ${code(s.startAdapter)} (its weights were the starting point)`);
  lines.push('');

  const t = s.train;
  lines.push('## Training', '');
  lines.push(`- Method: ${methodLine(t)}`);
  if (METHOD_INFO[method].preference) lines.push(`- Max prompt length: ${s.maxPromptLength ?? Math.floor(s.maxLength / 2)} tokens (a longer prompt keeps its last tokens)`);
  lines.push(`- Steps: ${r ? `${r.steps} of ${t.maxSteps}${r.end === 'stopped' ? ' (stopped early)' : ''}` : t.maxSteps}`);
  lines.push(`- Learning rate: ${t.lr}, ${t.schedule} schedule, ${t.warmupSteps} warmup steps`);
  lines.push(`- Batch size: ${s.batchSize} × gradient accumulation ${t.gradAccum} = ${s.batchSize * t.gradAccum} sequences per step`);
  lines.push(`- Max length: ${s.maxLength} tokens`);
  lines.push(`- Optimizer: AdamW, weight decay ${t.weightDecay}; gradient clipping ${t.maxGradNorm > 0 ? `at norm ${t.maxGradNorm}` : 'off'}`);
  lines.push(`- Gradient checkpointing: ${t.checkpointing ? 'on' : 'off'}`);
  lines.push(`- Seed: ${t.seed}`);
  if (r) lines.push(`- Time: ${(r.ms / 1000).toFixed(1)} s`);
  lines.push('');

  lines.push('## Data', '');
  if (d) {
    if (d.hub) {
      lines.push(`- Dataset: [${d.hub.id}](https://huggingface.co/datasets/${d.hub.id}) (config ${code(d.hub.config)}, split ${code(d.hub.split)}, commit ${code(d.hub.revision)}; ${dataFormatName(d.format)})`);
    } else {
      lines.push(`- File: ${code(d.fileName)} (${dataFormatName(d.format)}${d.fileBytes !== undefined ? `, ${formatBytes(d.fileBytes)}` : ''})`);
    }
    const unit = d.format === 'preference' ? 'pairs' : 'examples';
    lines.push(`- Size: ${d.examples} ${unit}, ${d.tokens} tokens (${d.trainedTokens} trained)`);
    if (d.truncated) lines.push(`- Truncated: ${d.truncated} example${d.truncated === 1 ? '' : 's'} longer than ${s.maxLength} tokens`);
    lines.push(
      `- Loss on: ${d.format === 'preference' ? 'the chosen and rejected completions (prompts masked)' : d.trainOn === 'all' ? 'every token' : 'assistant turns / completions only (prompts masked)'}`,
    );
    if (d.validation && d.validation.examples > 0) {
      lines.push(
        `- Validation: ${d.validation.examples} examples ${d.validation.source === 'file' ? `from ${code(d.validation.fileName ?? 'a second file')}` : 'held out of the data'}`,
      );
    }
  } else {
    lines.push('- Not recorded');
  }
  lines.push('');

  lines.push('## Results', '');
  lines.push(`- Final training loss: ${loss(r?.finalLoss)}`);
  lines.push(`- Final validation loss: ${loss(r?.finalValLoss)}`, '');
  if (c.losses?.length) {
    lines.push('| Step | Training loss | Validation loss |', '|---:|---:|---:|');
    for (const p of lossRows(c.losses)) lines.push(`| ${p.step} | ${loss(p.loss)} | ${p.val === null ? '' : loss(p.val)} |`);
    lines.push('');
  }

  lines.push('## Use with PEFT', '');
  lines.push('Unzip into a folder (here `./adapter`), then:', '');
  lines.push('```python');
  lines.push('from peft import PeftModel');
  lines.push('from transformers import AutoModelForCausalLM, AutoTokenizer', '');
  const id = JSON.stringify(base ?? 'path/to/base-model');
  lines.push(`base = AutoModelForCausalLM.from_pretrained(${id})`);
  lines.push(`tokenizer = AutoTokenizer.from_pretrained(${id})`);
  lines.push('model = PeftModel.from_pretrained(base, "./adapter")');
  lines.push('# optional: fold the adapter into the weights');
  lines.push('# model = model.merge_and_unload()');
  lines.push('```', '');

  const rank = vllmMaxLoraRank(Math.max(s.lora.r, ...Object.values(s.lora.rankPattern ?? {})));
  lines.push('## Use with vLLM', '');
  lines.push('```python');
  lines.push('from vllm import LLM, SamplingParams');
  lines.push('from vllm.lora.request import LoRARequest', '');
  lines.push(`llm = LLM(model=${id}, enable_lora=True, max_lora_rank=${rank})`);
  lines.push('out = llm.generate(["Hello"], SamplingParams(max_tokens=64), lora_request=LoRARequest("adapter", 1, "./adapter"))');
  lines.push('```', '');
  lines.push(`Or as a server: ${code(`vllm serve ${base ?? 'path/to/base-model'} --enable-lora --max-lora-rank ${rank} --lora-modules adapter=./adapter`)}.`, '');

  lines.push('## Use with Ollama', '');
  lines.push('A `Modelfile` beside the unzipped folder, then `ollama create my-model -f Modelfile`:', '');
  lines.push('```');
  lines.push(`FROM ${base ? `${base} (the same base weights: a folder of its safetensors, or its Ollama tag)` : 'path/to/base-model'}`);
  lines.push('ADAPTER ./adapter');
  lines.push('```', '');
  lines.push(
    "Ollama reads a safetensors adapter for the architectures its importer converts (the Llama, Mistral and Gemma families when this was written). For another architecture, convert the adapter with llama.cpp first (`python convert_lora_to_gguf.py ./adapter --base BASE_FOLDER --outfile adapter.gguf`) and write `ADAPTER ./adapter.gguf`.",
    '',
  );
  for (const x of onnx) lines.push(...transformersJs(x.folder, x.what.kind === 'onnx' ? x.what.dtype : '', c.repoId ?? 'OWNER/REPO'));
  lines.push('Trained with LoRA Studio.', '');
  return lines.join('\n');
}
