// A preference run in the worker (trainRun, run.ts) with a stand-in trainer (no GPU): the pairs
// reach the trainer as preference batches (chosen rows, then rejected), the record names the data
// as preference and keeps each step's metrics, a resume continues them from the checkpoint, and a
// method that does not match the data is refused before anything is stored.
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { loadTokenizerDir } from '../data/testdata/fixtures';
import { DEFAULT_TRAIN, type Batch, type Method } from '../engine/train/types';
import type { Gpu } from '../gpu/gpu';
import type { EngineModel, TrainerLike } from './engine-bridge';
import { loadDataset } from './dataset';
import type { FromWorker, ModelSummary, TrainSettings } from './protocol';
import { RunControl, RunError, trainRun } from './run';
import { getRun } from './run-store';

class StandInTrainer implements TrainerLike {
  readonly paramCount = 4;
  readonly batches: Batch[] = [];
  private at = 0;
  async step(micro: Batch[]) {
    this.batches.push(...micro);
    this.at++;
    return { step: this.at, loss: 1 / this.at, gradNorm: 1, lr: 1e-3, tokens: 8, metrics: { 'rewards/margins': this.at / 10, 'rewards/accuracies': 1 } };
  }
  async evalLoss() {
    return 1;
  }
  async evaluate() {
    return { loss: 0.5, metrics: { 'rewards/margins': 0.25 } };
  }
  async saveState() {
    return { step: this.at, params: new Float32Array(4), m: new Float32Array(4), v: new Float32Array(4) };
  }
  loadState(s: { step: number }) {
    this.at = s.step;
  }
  async exportAdapter() {
    return new Map();
  }
  destroy() {}
}

let trainer = new StandInTrainer();
let maxBatch = 0;
vi.mock('./engine-bridge', async (original) => ({
  ...(await original<typeof import('./engine-bridge')>()),
  createTrainer: async (_gpu: unknown, _m: unknown, _s: unknown, batch: number) => {
    maxBatch = batch;
    return trainer;
  },
}));

const tok = loadTokenizerDir('public/demo');
const pair = (i: number) => JSON.stringify({ prompt: `What is ${i} plus ${i}?`, chosen: ` ${2 * i}.`, rejected: ` ${2 * i + 1}.` });
const file = new TextEncoder().encode(Array.from({ length: 10 }, (_, i) => pair(i)).join('\n'));
const settingsFor = (method: Method, maxSteps = 4): TrainSettings => ({
  lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj'], useRslora: false },
  train: { ...DEFAULT_TRAIN, maxSteps, method, beta: 0.2 },
  batchSize: 2,
  maxLength: 32,
  maxPromptLength: 8,
  checkpointEvery: 2,
  validationExamples: 2,
});

async function train(id: string, settings: TrainSettings, resume = false, stopAt: number | null = null) {
  trainer = new StandInTrainer();
  const { prepared } = await loadDataset(tok, 'pairs.jsonl', [{ name: 'pairs.jsonl', data: file }], false, () => undefined);
  const control = new RunControl();
  const events: FromWorker[] = [];
  const result = await trainRun({
    gpu: { device: { lost: new Promise<never>(() => undefined) } } as unknown as Gpu,
    model: { engine: {} as EngineModel, summary: { name: 'Demo model', hubId: null } as ModelSummary, tokenizer: tok },
    dataset: { prepared, recorded: () => new Blob([file]), fileName: 'pairs.jsonl', skipInvalid: false },
    settings,
    run: { id, resume, model: { source: { kind: 'demo', baseUrl: '/demo/' }, label: 'demo' }, form: {} },
    control,
    post: (msg) => {
      events.push(structuredClone(msg)); // as the page receives it (the worker keeps adding to its history)
      if (msg.kind === 'event' && msg.type === 'step' && msg.metrics.step === stopAt) control.stop();
    },
    releasePrevious: () => undefined,
    onTrainer: () => undefined,
  });
  return { result, events };
}

describe('a preference run in the worker', () => {
  it('trains pair batches, records the data kind and each step metrics, validates with the metrics', async () => {
    const { result, events } = await train('dpo-1', settingsFor('dpo'));
    expect(result.end).toBe('finished');
    // Batch size 2 pairs: 4 rows, chosen first; the prompt cut to 8 tokens, each row within 32.
    expect(maxBatch).toBe(4);
    expect(trainer.batches.every((b) => b.pairs === 2 && b.B === 4 && b.T <= 32)).toBe(true);
    const run = await getRun('dpo-1');
    expect(run?.dataset).toMatchObject({ kind: 'preference', examples: 10 });
    expect(run?.settings.train).toMatchObject({ method: 'dpo', beta: 0.2 });
    expect(run?.history.metrics?.map((m) => m['rewards/margins'])).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(run?.history.valMetrics?.at(-1)).toEqual([4, { 'rewards/margins': 0.25 }]);
    expect(events.some((e) => e.kind === 'event' && e.type === 'eval' && e.metrics?.['rewards/margins'] === 0.25)).toBe(true);
  });

  it('resumes from its checkpoint with the metrics up to it, then the steps after', async () => {
    await train('dpo-2', settingsFor('dpo'), false, 3);
    expect((await getRun('dpo-2'))?.checkpointStep).toBe(3);
    const { events } = await train('dpo-2', settingsFor('dpo'), true);
    const history = events.find((e) => e.kind === 'event' && e.type === 'history');
    expect(history && 'history' in history ? history.history.metrics?.length : null).toBe(3);
    expect((await getRun('dpo-2'))?.history.metrics?.length).toBe(4);
  });

  it('refuses SFT on pairs before anything is stored', async () => {
    const e = await train('sft-on-pairs', settingsFor('sft')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunError);
    expect((e as Error).message).toMatch(/^SFT trains on examples, and this dataset is preference data/);
    expect(await getRun('sft-on-pairs')).toBeUndefined();
  });
});
