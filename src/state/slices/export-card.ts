// The README.md model card that goes into the adapter .zip: what was trained on what, how, and how
// to load it. Pure (no store, no DOM) so it is unit-tested as text.
import type { ModelSummary, TrainResult, TrainSettings } from '../../worker/protocol';

export interface ModelCardInput {
  model: Pick<ModelSummary, 'name' | 'hubId' | 'randomWeights' | 'quant'>;
  settings: TrainSettings;
  dataset: {
    fileName: string;
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
  date: Date;
}

const loss = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(4));
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;
const FORMAT_NAMES: Record<string, string> = {
  messages: 'chat messages',
  sharegpt: 'ShareGPT conversations',
  completion: 'prompt and completion',
  alpaca: 'Alpaca instructions',
  text: 'plain text',
};

/** A YAML scalar in double quotes (JSON strings are valid YAML). */
const yamlString = (s: string): string => JSON.stringify(s);

export function modelCard(c: ModelCardInput): string {
  const { settings: s, model: m, dataset: d, result: r } = c;
  const base = m.hubId;
  const baseText = base ? code(base) : `${m.name} (no Hugging Face id: load it from its local folder)`;
  const date = c.date.toISOString().slice(0, 10);
  const lines: string[] = [];
  lines.push('---');
  if (base) lines.push(`base_model: ${yamlString(base)}`);
  lines.push('library_name: peft');
  lines.push('tags:', '  - lora', '  - peft', '  - lora-studio');
  lines.push('---', '');
  lines.push(`# LoRA adapter for ${base ?? m.name}`, '');
  lines.push(`A LoRA adapter trained with LoRA Studio on ${date}, in the browser with WebGPU.`, '');
  if (m.randomWeights) lines.push('> The base model is the LoRA Studio demo model, with **random weights**: this adapter is a demonstration, not a useful model.', '');

  lines.push('## Files', '');
  lines.push('- `adapter_model.safetensors`: the LoRA weights (PEFT names, f32)');
  lines.push('- `adapter_config.json`: the PEFT configuration');
  lines.push('- `README.md`: this card', '');

  lines.push('## Base model', '');
  lines.push(`- Model: ${baseText}`);
  if (m.quant && m.quant !== 'none') lines.push(`- Trained against the base weights stored as ${m.quant}`);
  lines.push('');

  lines.push('## LoRA', '');
  lines.push(`- Rank (r): ${s.lora.r}`);
  lines.push(`- Alpha: ${s.lora.alpha}${s.lora.useRslora ? ' (rsLoRA: scaled by alpha / √r)' : ''}`);
  lines.push(`- Dropout: ${s.lora.dropout}`);
  lines.push(`- Target modules: ${s.lora.targetModules.map(code).join(', ')}`, '');

  const t = s.train;
  lines.push('## Training', '');
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
    lines.push(`- File: ${code(d.fileName)} (${FORMAT_NAMES[d.format] ?? d.format})`);
    lines.push(`- Size: ${d.examples} examples, ${d.tokens} tokens (${d.trainedTokens} trained)`);
    if (d.truncated) lines.push(`- Truncated: ${d.truncated} example${d.truncated === 1 ? '' : 's'} longer than ${s.maxLength} tokens`);
    lines.push(`- Loss on: ${d.trainOn === 'all' ? 'every token' : 'assistant turns / completions only (prompts masked)'}`);
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
  lines.push('Trained with LoRA Studio.', '');
  return lines.join('\n');
}
