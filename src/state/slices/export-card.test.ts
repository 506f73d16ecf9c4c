import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import type { TrainSettings } from '../../worker/protocol';
import { lossRows, modelCard, vllmMaxLoraRank, type LossPoint, type ModelCardInput } from './export-card';

const settings: TrainSettings = {
  lora: { r: 16, alpha: 32, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: true },
  train: { ...DEFAULT_TRAIN, lr: 2e-4, schedule: 'cosine', warmupSteps: 10, maxSteps: 200, gradAccum: 2, seed: 7, checkpointing: true },
  batchSize: 4,
  maxLength: 512,
  checkpointEvery: 10,
  validationExamples: 20,
};

const input: ModelCardInput = {
  model: { name: 'Qwen/Qwen3-0.6B', hubId: 'Qwen/Qwen3-0.6B', randomWeights: false, quant: 'int4' },
  settings,
  dataset: {
    fileName: 'chat.jsonl',
    format: 'messages',
    examples: 1000,
    tokens: 250_000,
    trainedTokens: 90_000,
    truncated: 3,
    trainOn: 'assistant',
    validation: { examples: 20, source: 'split' },
  },
  result: { end: 'finished', steps: 200, finalLoss: 1.23456, finalValLoss: 1.5, ms: 61_000 },
  date: new Date('2026-11-26T12:00:00Z'),
};

describe('modelCard', () => {
  it('names a Hub dataset by its id (front matter and the Data section), config, split and commit, and no file', () => {
    const hub = { id: 'yahma/alpaca-cleaned', config: 'default', split: 'train', revision: '0123456789abcdef0123456789abcdef01234567' };
    const md = modelCard({ ...input, dataset: { ...input.dataset!, fileName: 'yahma/alpaca-cleaned default-train.parquet', fileBytes: 1234, hub } });
    expect(md).toMatch(/^---\nbase_model: "Qwen\/Qwen3-0\.6B"\ndatasets:\n  - "yahma\/alpaca-cleaned"\nlibrary_name: peft\n/);
    expect(md).toContain('- Dataset: [yahma/alpaca-cleaned](https://huggingface.co/datasets/yahma/alpaca-cleaned) (config `default`, split `train`, commit `0123456789abcdef0123456789abcdef01234567`; chat messages)');
    expect(md).not.toContain('- File:');
  });

  it('names the base model, settings, data, losses, date and how to load it', () => {
    const md = modelCard(input);
    expect(md).toMatch(/^---\nbase_model: "Qwen\/Qwen3-0\.6B"\nlibrary_name: peft\n/);
    for (const s of [
      '# LoRA adapter for Qwen/Qwen3-0.6B',
      'trained with LoRA Studio on 2026-11-26',
      'Rank (r): 16',
      'Alpha: 32 (rsLoRA',
      'Dropout: 0.05',
      '`q_proj`, `v_proj`',
      'Steps: 200 of 200',
      'Learning rate: 0.0002, cosine schedule, 10 warmup steps',
      '4 × gradient accumulation 2 = 8 sequences per step',
      'Max length: 512 tokens',
      'Gradient checkpointing: on',
      'Seed: 7',
      '`chat.jsonl` (chat messages)',
      '1000 examples, 250000 tokens (90000 trained)',
      'Truncated: 3 examples longer than 512 tokens',
      'Validation: 20 examples held out of the data',
      'Final training loss: 1.2346',
      'Final validation loss: 1.5000',
      'base = AutoModelForCausalLM.from_pretrained("Qwen/Qwen3-0.6B")',
      'model = PeftModel.from_pretrained(base, "./adapter")',
      'llm = LLM(model="Qwen/Qwen3-0.6B", enable_lora=True, max_lora_rank=16)',
      'LoRARequest("adapter", 1, "./adapter")',
      '`vllm serve Qwen/Qwen3-0.6B --enable-lora --max-lora-rank 16 --lora-modules adapter=./adapter`',
      'FROM Qwen/Qwen3-0.6B (the same base weights',
      'ADAPTER ./adapter',
      'convert_lora_to_gguf.py ./adapter --base BASE_FOLDER',
      'Trained with LoRA Studio.',
    ]) {
      expect(md, s).toContain(s);
    }
  });

  it('without a Hub id: no base_model line, a placeholder path, the demo warning, n/a losses', () => {
    const md = modelCard({
      ...input,
      model: { name: 'Demo model', hubId: null, randomWeights: true, quant: 'none' },
      result: { end: 'stopped', steps: 5, finalLoss: 2, finalValLoss: null, ms: 1000 },
      dataset: null,
    });
    expect(md).not.toContain('base_model:');
    expect(md).toContain('random weights');
    expect(md).toContain('Steps: 5 of 200 (stopped early)');
    expect(md).toContain('Final validation loss: n/a');
    expect(md).toContain('from_pretrained("path/to/base-model")');
    expect(md).toContain('- Not recorded');
    expect(md).toContain('FROM path/to/base-model\nADAPTER ./adapter');
  });

  it('names rank/alpha patterns, layers and the adapter a run continued; vLLM gets the largest rank', () => {
    const md = modelCard({
      ...input,
      settings: { ...settings, startAdapter: 'my-adapter', lora: { ...settings.lora, rankPattern: { down_proj: 64 }, alphaPattern: { q_proj: 8 }, layersToTransform: [0, 2] } },
    });
    expect(md).toContain('- Rank pattern: `{"down_proj":64}`');
    expect(md).toContain('- Alpha pattern: `{"q_proj":8}`');
    expect(md).toContain('- Layers: 0, 2');
    expect(md).toContain('- Continued from the adapter `my-adapter`');
    expect(md).toContain('max_lora_rank=64');
  });

  it("asks vLLM for the smallest max_lora_rank it accepts that holds the adapter's rank", () => {
    expect([1, 8, 9, 16, 17, 64, 100, 300, 512].map(vllmMaxLoraRank)).toEqual([8, 8, 16, 16, 32, 64, 128, 320, 512]);
  });

  it('names the dataset file and its size, never more of it, and tabulates the losses', () => {
    const losses: LossPoint[] = [
      { step: 1, loss: 2.5, val: null },
      { step: 2, loss: 2.25, val: 2.4 },
    ];
    const md = modelCard({ ...input, dataset: { ...input.dataset!, fileBytes: 3 * 1024 * 1024 }, losses });
    expect(md).toContain('- File: `chat.jsonl` (chat messages, 3.0 MiB)');
    expect(md).toContain('| Step | Training loss | Validation loss |\n|---:|---:|---:|\n| 1 | 2.5000 |  |\n| 2 | 2.2500 | 2.4000 |\n');
    expect(modelCard(input)).not.toContain('| Step |');
  });

  it('spreads at most 20 loss rows over the run, first and last step included', () => {
    const points = Array.from({ length: 200 }, (_, i) => ({ step: i + 1, loss: 1, val: null }));
    const rows = lossRows(points);
    const steps = rows.map((r) => r.step);
    expect([steps.length, steps[0], steps[19]]).toEqual([20, 1, 200]);
    // 199 steps between first and last in 19 gaps: each gap 10 or 11.
    for (let i = 1; i < 20; i++) expect([10, 11]).toContain(steps[i] - steps[i - 1]);
    expect(lossRows(points.slice(0, 5)).map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
  });

  it('pushed with exports built on the page: lists their folders and shows Transformers.js loading the ONNX one from the repository', () => {
    const md = modelCard({
      ...input,
      repoId: 'alice/qwen-lora',
      extras: [
        { folder: 'gguf-adapter', what: { kind: 'gguf', merged: false } },
        { folder: 'onnx-q4', what: { kind: 'onnx', dtype: 'q4' } },
      ],
    });
    expect(md).toMatch(/\ntags:\n  - lora\n  - peft\n  - lora-studio\n  - onnx\n  - transformers\.js\n  - gguf\n---\n/);
    expect(md).toContain("- `README.md`: this card\n- `gguf-adapter/`: this adapter as GGUF for llama.cpp's `--lora`");
    expect(md).toContain('\n- `onnx-q4/`: the base model with this adapter for the web: `config.json`, the tokenizer files and `onnx/`, as Transformers.js');
    expect(md).toContain('## Use in the browser (Transformers.js): `onnx-q4/`');
    expect(md).toContain(
      [
        "env.remotePathTemplate = '{model}/resolve/{revision}/onnx-q4/';",
        "const tokenizer = await AutoTokenizer.from_pretrained('alice/qwen-lora');",
        "const model = await AutoModelForCausalLM.from_pretrained('alice/qwen-lora', { dtype: 'q4' });",
      ].join('\n'),
    );
  });

  it('without extras (the .zip download) names no folder and no Transformers.js section', () => {
    const md = modelCard(input);
    expect(md).not.toContain('Transformers.js');
    expect(md).not.toContain('gguf-');
    expect(md).not.toContain('  - gguf');
    expect(md).toContain('- `README.md`: this card\n\n## Base model');
  });
});

describe('modelCard: a preference run', () => {
  it('names the method, its beta, the max prompt length and the reference; the data as pairs', () => {
    const dpo: ModelCardInput = {
      ...input,
      settings: { ...settings, train: { ...settings.train, method: 'dpo', beta: 0.25 }, maxPromptLength: 128 },
      dataset: { ...input.dataset!, fileName: 'pairs.jsonl', format: 'preference', examples: 40 },
    };
    const md = modelCard(dpo);
    expect(md).toContain('  - dpo\n');
    expect(md).toContain('- Method: DPO (preference pairs), beta 0.25; reference: the base model without any adapter');
    expect(md).toContain('- Max prompt length: 128 tokens');
    expect(md).toContain('- Size: 40 pairs');
    expect(md).toContain('- Loss on: the chosen and rejected completions (prompts masked)');
    const orpo = modelCard({ ...dpo, settings: { ...dpo.settings, train: { ...dpo.settings.train, method: 'orpo', beta: 0.1 }, maxPromptLength: undefined } });
    expect(orpo).toContain("- Method: ORPO (preference pairs), beta (lambda, the odds-ratio term's weight) 0.1; no reference model");
    expect(orpo).toContain('- Max prompt length: 256 tokens');
    const sft = modelCard(input);
    expect(sft).toContain('- Method: SFT (supervised fine-tuning)');
    expect(sft).not.toContain('Max prompt length');
  });
});
