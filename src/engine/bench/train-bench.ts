// The training benchmark, independent of where it runs: the CLI (src/cli/bench.ts, Node/Dawn) and
// the bench page (src/app/bench-page.ts, browser WebGPU) both call runTrainBench on a Gpu they made.
//
// Full training steps (forward, backward, clipping, AdamW) on random weights of a preset's real
// shapes, LoRA on all seven projections; the median step time is reported. steps = 0 is the
// memory-only mode: the trainer is built with the real shapes and the programs of a B×T step are
// recorded but never run, so gpu_bytes (the Gpu's own count of its buffers) is what a run of that
// shape needs, without the (possibly very slow) steps.
import { hasOwn } from '../../io/untrusted/json';
import type { Gpu } from '../../gpu/gpu';
import { PRESETS, randomWeights } from '../model/presets';
import { PROJECTIONS, type ModelSpec } from '../model/spec';
import { Trainer } from '../train/trainer';
import { DEFAULT_TRAIN, type Batch } from '../train/types';
import type { TrainingPlan } from '../train/plan';
import type { WeightSource } from '../model/weight-source';
import { rng } from '../kernels/random';
import { comparePytorch, type PytorchComparison } from './pytorch-reference';
import { trainStepFlops } from './step-flops';
import { BenchFieldError, intField, quantField, round, significant, type BenchQuant, type FieldLabel, type RawFields } from './fields';

export interface TrainBenchOptions {
  /** A key of PRESETS. */
  model: string;
  layers: number;
  batch: number;
  seq: number;
  rank: number;
  quant: BenchQuant;
  checkpointing: boolean;
  /** Timed training steps; 0 = memory only (nothing runs on the GPU). */
  steps: number;
  /** When the pipelines compile (TrainerOptions.compile; default 'ahead'). */
  compile?: 'ahead' | 'first-use';
}

/** The JSON the CLI prints and the page shows; the field names are the benchmark's contract. */
export interface TrainBenchResult {
  model: string;
  layers: number;
  quant: BenchQuant;
  batch: number;
  seq: number;
  rank: number;
  checkpointing: boolean;
  steps: number;
  /** Median step time, leaving the first step out when there are several; null with steps 0. */
  step_ms: number | null;
  first_step_ms: number | null;
  /**
   * Wall time spent compiling pipelines up to the end of the first step: with compile 'ahead' the
   * parallel batch during setup (overlapping the upload), with 'first-use' the synchronous compiles
   * inside the first step.
   */
  compile_ms: number;
  /** Trainer.create: the weights' upload, and with compile 'ahead' the compile beside it. */
  setup_ms: number;
  /** Pipelines compiled ahead (in parallel) and at first use (one by one), up to the end of the first step. */
  compiled: { ahead: number; first_use: number };
  /** B × T per second at the median step; with real data, the timed steps' batch slots (padded_tokens) per second. */
  tokens_per_s: number | null;
  /** The step's useful arithmetic in TFLOP (step-flops.ts: products and attention, no recomputation). */
  step_tflop: number;
  /** step_tflop per second at the median step time: the figure to hold against the GPU's f32 peak. */
  model_tflop_per_s: number | null;
  /** Peak bytes of the Gpu's buffers during the run (weights, adapter, optimizer, activations). */
  gpu_bytes: number;
  losses: number[];
  adapter: string;
  /** Whether the reducing kernels ran in their subgroup form. */
  subgroups: boolean;
  /** GPU time per kernel of one more step, when the device has timestamp queries; null otherwise. */
  kernels: Record<string, { calls: number; ms: number }> | null;
  /** Against the PyTorch H100 figures (pytorch-reference.ts), when the run has their shape (4 × 512, r 16, all layers). */
  vs_pytorch_h100: PytorchComparison | null;
  /** With real data (BenchData) only: whether the batches were packed. */
  packing?: boolean;
  /** With real data: tokens of the examples in the steps' batches (attention mask 1). */
  real_tokens?: number;
  /** With real data: the steps' batch slots, real and padding (the sum of each batch's B × T). */
  padded_tokens?: number;
  /** real_tokens / padded_tokens. */
  real_token_fraction?: number;
  /** Real tokens per second of the timed steps (all but the first when there are several); null with steps 0. */
  real_tokens_per_s?: number | null;
  /**
   * With BenchData.padded (`--packing --vs-padded`): the padded run of the same file, batch and max
   * length, its steps interleaved with the packed run's on the same trainer, so load on a shared
   * machine weighs on both alike.
   */
  padded_run?: RealDataRates;
  /** real_tokens_per_s over padded_run.real_tokens_per_s, both from this invocation. */
  packing_speedup?: number | null;
}

/** A real-data run's token counts and rates (the top-level fields of the same names, for one run). */
export interface RealDataRates {
  packing: boolean;
  real_tokens: number;
  padded_tokens: number;
  real_token_fraction: number;
  real_tokens_per_s: number | null;
  tokens_per_s: number | null;
  step_ms: number | null;
}

/**
 * Real data for the training benchmark (`bench --model DIR --data FILE`): the model folder's
 * weights, and the batcher a run of the same batch size, max length and packing would use; step s
 * trains that run's step-s batch (plan.microBatches(s), one micro-batch per step).
 */
export interface BenchData {
  spec: ModelSpec;
  weights: WeightSource;
  plan: TrainingPlan;
  /** A second plan (the same data padded) whose step s runs beside plan's step s: the comparison's baseline. */
  padded?: TrainingPlan;
}

/** One stream of timed steps: its batches' real tokens and slots, step times and losses. */
interface StepLog {
  real: number[];
  slots: number[];
  times: number[];
  losses: number[];
}

const sum = (xs: number[]): number => xs.reduce((a, x) => a + x, 0);

/** Median of the timed steps: all but the first when there are several (it maps buffers, records programs, may compile). */
function medianStep(times: number[]): number | null {
  if (!times.length) return null;
  const timed = [...(times.length > 1 ? times.slice(1) : times)].sort((a, b) => a - b);
  return timed[Math.floor(timed.length / 2)];
}

/** A real-data stream's counts and rates; the rates count the timed steps only, as the median does. */
function realDataRates(log: StepLog, packing: boolean): RealDataRates {
  const from = log.times.length > 1 ? 1 : 0;
  const time = sum(log.times.slice(from));
  const median = medianStep(log.times);
  return {
    packing,
    real_tokens: sum(log.real),
    padded_tokens: sum(log.slots),
    real_token_fraction: log.slots.length ? significant(sum(log.real) / sum(log.slots), 4) : 0,
    real_tokens_per_s: log.times.length ? significant((sum(log.real.slice(from)) / time) * 1000, 4) : null,
    tokens_per_s: log.times.length ? significant((sum(log.slots.slice(from)) / time) * 1000, 4) : null,
    step_ms: median === null ? null : round(median, 2),
  };
}

export interface TrainBenchHooks {
  /** What the benchmark is doing now (for a status line). */
  onProgress?(text: string): void;
  /** Profile one more step per kernel when the device allows it (default true). */
  profile?: boolean;
}

/**
 * Options from text fields (flags or form values); unset fields take the defaults (tiny, batch 1,
 * seq 64, rank 16, steps 3, quant none, the preset's layer count). Throws BenchFieldError naming
 * the field with `label` (e.g. `--batch must be a positive integer (got "0")`).
 */
export function parseTrainBenchOptions(raw: RawFields, checkpointing: boolean, label: FieldLabel): TrainBenchOptions {
  const model = raw['model'] ?? 'tiny';
  const preset = hasOwn(PRESETS, model) ? PRESETS[model] : undefined; // own keys only: "constructor" is no model
  if (!preset) throw new BenchFieldError('model', `${label('model')} ${model} is not known (choose from ${Object.keys(PRESETS).join(', ')})`);
  const quant = quantField(raw, 'quant', label);
  return {
    model,
    layers: intField(raw, 'layers', preset.numLayers, label),
    batch: intField(raw, 'batch', 1, label),
    seq: intField(raw, 'seq', 64, label),
    rank: intField(raw, 'rank', 16, label),
    quant,
    checkpointing,
    steps: intField(raw, 'steps', 3, label, 0),
  };
}

export function benchSpec(opts: TrainBenchOptions): ModelSpec {
  const preset = PRESETS[opts.model];
  if (!preset) throw new BenchFieldError('model', `model ${opts.model} is not known (choose from ${Object.keys(PRESETS).join(', ')})`);
  return { ...preset, numLayers: opts.layers };
}


/**
 * Runs the training benchmark on `gpu`. gpu_bytes counts from the Gpu's current allocation: the
 * Gpu's peak is reset to it first, so one Gpu can serve several benchmarks in turn. Everything the
 * benchmark allocates is freed before it returns (or throws).
 */
export async function runTrainBench(gpu: Gpu, opts: TrainBenchOptions, hooks: TrainBenchHooks = {}, data?: BenchData): Promise<TrainBenchResult> {
  const progress = hooks.onProgress ?? (() => {});
  const spec = data ? data.spec : benchSpec(opts);
  const { batch: B, seq: T, rank: r, steps, quant, checkpointing } = opts;
  const base = gpu.allocatedBytes;
  gpu.peakAllocatedBytes = base;

  if (!data) progress(`Generating random weights for ${opts.model} (${spec.numLayers} layers${quant === 'none' ? '' : `, ${quant}`})`);
  let weights: ReturnType<typeof randomWeights> | WeightSource | null = data ? data.weights : randomWeights(spec, 1, quant);
  // With real data the trainer is sized as a run's: the plan's longest row (T, or less unpacked).
  const maxSeq = data ? Math.max(data.plan.maxSeq, data.padded?.maxSeq ?? 0) : T;
  progress(opts.compile === 'first-use' ? 'Uploading the model and allocating the trainer' : 'Uploading the model and compiling the pipelines');
  const compileBefore = { ...gpu.compileStats };
  const setupStart = performance.now();
  const trainer = await Trainer.create(
    gpu,
    { spec, weights },
    { r, alpha: 2 * r, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false },
    { ...DEFAULT_TRAIN, lr: 1e-4, maxSteps: Math.max(1, steps), checkpointing, schedule: 'constant' },
    { maxBatch: B, maxSeq, quant, compile: opts.compile },
  );
  const setupMs = performance.now() - setupStart;
  weights = null; // the host copy can go: the GPU holds the model now
  try {
    const g = rng(7);
    const ids = new Int32Array(B * T).map(() => Math.floor(g() * spec.vocabSize));
    const random: Batch = { B, T, inputIds: ids, attentionMask: new Int32Array(B * T).fill(1), labels: ids };
    const batchOf = (s: number): Batch => (data ? data.plan.microBatches(s).micro[0] : random);
    const batch = batchOf(0);
    const main: StepLog = { real: [], slots: [], times: [], losses: [] };
    const baseline: StepLog = { real: [], slots: [], times: [], losses: [] };
    if (steps === 0) {
      // Memory only: record (do not run) the step's programs, which is where a step's shape-bound
      // allocations would happen; a training step itself allocates nothing.
      progress(`Recording the ${B}×${T} training-step programs (memory only)`);
      await gpu.checked(() => trainer.prepare(B, maxSeq));
    }
    const timeStep = async (log: StepLog, b: Batch): Promise<void> => {
      log.real.push(b.attentionMask.reduce((n, m) => n + m, 0));
      log.slots.push(b.B * b.T);
      const t0 = performance.now();
      const res = await trainer.trainStep([b]);
      log.times.push(performance.now() - t0);
      log.losses.push(res.loss);
    };
    let compileAfter = { ...gpu.compileStats };
    for (let s = 0; s < steps; s++) {
      progress(`Step ${s + 1} of ${steps}`);
      const padded = data?.padded;
      if (!padded) await timeStep(main, batchOf(s));
      else {
        // Interleaved, first one then the other, so neither run has the quieter half of a shared machine.
        const pair: [StepLog, Batch][] = [
          [main, batchOf(s)],
          [baseline, padded.microBatches(s).micro[0]],
        ];
        if (s % 2) pair.reverse();
        for (const [log, b] of pair) await timeStep(log, b);
      }
      if (s === 0) compileAfter = { ...gpu.compileStats };
    }
    const { times, losses } = main;
    const median = medianStep(times);
    // Per-kernel GPU time of one more step, when the device has timestamp queries (lr 0: no update).
    let kernels: TrainBenchResult['kernels'] = null;
    if (steps > 0 && hooks.profile !== false && gpu.features.has('timestamp-query')) {
      progress('Profiling one step per kernel');
      const prof = await trainer.profile(batch);
      kernels = Object.fromEntries(
        Object.entries(prof)
          .sort((a, b) => b[1].ms - a[1].ms)
          .map(([k, v]) => [k, { calls: v.calls, ms: round(v.ms, 3) }]),
      );
    }
    // With real data the batches' shapes vary (padded T, an epoch's last batch): their slots per second.
    const rates = data ? realDataRates(main, data.plan.packing) : null;
    const tokensPerS = median === null ? null : rates ? rates.tokens_per_s : significant(((B * T) / median) * 1000, 4);
    // The top level already carries tokens_per_s and step_ms (the same figures for real data).
    const { tokens_per_s: _slots, step_ms: _median, ...realData } = rates ?? {};
    const comparison = data?.padded ? realDataRates(baseline, false) : null;
    const versus = comparison
      ? {
          padded_run: comparison,
          packing_speedup:
            rates?.real_tokens_per_s != null && comparison.real_tokens_per_s ? significant(rates.real_tokens_per_s / comparison.real_tokens_per_s, 3) : null,
        }
      : {};
    const stepFlops = trainStepFlops(spec, { batch: B, seq: T, rank: r });
    return {
      model: opts.model,
      layers: spec.numLayers,
      quant,
      batch: B,
      seq: T,
      rank: r,
      checkpointing,
      steps,
      step_ms: median === null ? null : round(median, 2),
      first_step_ms: times.length ? round(times[0], 2) : null,
      compile_ms: round(compileAfter.ms - compileBefore.ms, 2),
      setup_ms: round(setupMs, 2),
      compiled: { ahead: compileAfter.async - compileBefore.async, first_use: compileAfter.sync - compileBefore.sync },
      tokens_per_s: tokensPerS,
      step_tflop: significant(stepFlops / 1e12, 6),
      model_tflop_per_s: median === null ? null : significant(stepFlops / 1e12 / (median / 1000), 4),
      gpu_bytes: gpu.peakAllocatedBytes - base,
      losses,
      adapter: gpu.adapterName,
      subgroups: gpu.subgroups,
      kernels,
      vs_pytorch_h100: data ? null : comparePytorch(opts.model, { allLayers: spec.numLayers === PRESETS[opts.model].numLayers, batch: B, seq: T, rank: r }, tokensPerS),
      ...realData,
      ...versus,
    };
  } finally {
    trainer.destroy();
  }
}
