// The training objective, the trainer's loss seam (GpuModel.recordBackward's HeadObjective): from
// the LM head's per-token losses to the loss and each token's gradient weight, for one backward
// path shared by every method. SFT weighs every counted token 1 / (counted tokens of the step).
// A preference method (DPO, IPO, ORPO; TRL's losses) sums each sequence's completion log-probs,
// takes the reference log-probs from the same model with the adapter off (recordReference, run in
// the same step before the policy's forward: no second model and no cache to keep in step), and
// weighs each token by its sequence's -dL/dlogp. A preference batch is P pairs as 2P rows: rows
// 0..P-1 the chosen completions, P..2P-1 the rejected ones (Batch.pairs).
import type { Gpu, Recorder } from '../../gpu/gpu';
import { lossSum } from '../kernels/crossentropy';
import { fillWeights, METRIC_NAMES, METRIC_WORDS, preferenceLoss, rowWeights, sequenceLogps, type MetricName, type PreferenceMethod } from '../kernels/objective';
import type { GpuModel, HeadObjective } from '../model/model';
import { GpuError } from '../../gpu/errors';
import { countedTokens, type Batch, type Method } from './types';

export { METRIC_NAMES, METRIC_WORDS, type MetricName };

/** The step's metrics by TRL's name (a preference method's; SFT has none). */
export type StepMetrics = Partial<Record<MetricName | 'rewards/margins', number>>;

/** The metrics each method reports (TRL's DPOTrainer / ORPOTrainer logs). */
export const METHOD_METRICS: Record<Method, ReadonlyArray<MetricName | 'rewards/margins'>> = {
  sft: [],
  dpo: ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected'],
  ipo: ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected'],
  orpo: ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'nll_loss', 'log_odds_ratio', 'log_odds_chosen'],
};

export const isPreference = (m: Method): m is PreferenceMethod => m !== 'sft';

/** Chosen rows' counted tokens of a preference batch. */
function chosenTokens(b: Batch): number {
  const P = b.pairs ?? 0;
  return countedTokens({ ...b, B: P });
}

export class Objective implements HeadObjective {
  readonly tokenWeights: GPUBuffer;
  /**
   * Per-row (sequence) buffers of a preference batch: log-probs (policy, reference), the log-ratio
   * policy - reference (summed token by token), counted tokens, -dL/dlogp.
   */
  readonly logp: GPUBuffer;
  readonly ref: GPUBuffer;
  readonly ratio: GPUBuffer;
  /** The reference's per-token losses (N), kept for the policy's token-by-token log-ratio. */
  private readonly refTokenLosses: GPUBuffer;
  readonly tokens: GPUBuffer;
  readonly coef: GPUBuffer;
  /** The step's metric sums (METRIC_NAMES), cleared with the step's first micro-batch. */
  readonly metrics: GPUBuffer;
  private readonly scaleWords = new Float32Array(2);

  constructor(
    private readonly gpu: Gpu,
    private readonly model: GpuModel,
    readonly method: Method,
    readonly beta: number,
    maxB: number,
    maxN: number,
    owned: GPUBuffer[],
  ) {
    const make = (floats: number, label: string): GPUBuffer => {
      const b = gpu.createBuffer(Math.max(4, floats * 4), label);
      owned.push(b);
      return b;
    };
    this.tokenWeights = make(maxN, 'objective.tokenWeights');
    this.logp = make(maxB, 'objective.logp');
    this.ref = make(maxB, 'objective.ref');
    this.ratio = make(maxB, 'objective.ratio');
    this.refTokenLosses = make(this.usesReference ? maxN : 1, 'objective.refTokenLosses');
    this.tokens = make(maxB, 'objective.tokens');
    this.coef = make(maxB, 'objective.coef');
    this.metrics = make(METRIC_WORDS, 'objective.metrics');
  }

  get preference(): boolean {
    return isPreference(this.method);
  }

  /** DPO and IPO compare with the base model (the adapter off); ORPO has no reference. */
  get usesReference(): boolean {
    return this.method === 'dpo' || this.method === 'ipo';
  }

  /** A batch this objective cannot take, as a message; null when it fits. */
  batchProblem(b: Batch): string | null {
    if (!this.preference) return b.pairs ? `a ${this.method} step got a preference batch (${b.pairs} pairs)` : null;
    if (!b.pairs || b.pairs * 2 !== b.B) return `${this.method} needs preference batches (2 rows per pair: chosen, then rejected); got ${b.B} rows with ${b.pairs ?? 'no'} pairs`;
    if (b.positions) return `${this.method}: a preference batch holds one sequence per row (no packing)`;
    return null;
  }

  /**
   * Writes the step's scales for its micro-batches: SFT [1 / counted tokens]; a preference method
   * [1 / chosen tokens (ORPO's NLL), 1 / pairs]. Throws when the step trains nothing.
   */
  writeScales(micro: Batch[]): void {
    for (const b of micro) {
      const problem = this.batchProblem(b);
      if (problem) throw new GpuError(problem);
    }
    if (this.preference) {
      const pairs = micro.reduce((n, b) => n + (b.pairs ?? 0), 0);
      const chosen = micro.reduce((n, b) => n + chosenTokens(b), 0);
      if (pairs === 0 || chosen === 0) throw new GpuError('this step has no trained completion tokens');
      this.scaleWords[0] = 1 / chosen;
      this.scaleWords[1] = 1 / pairs;
    } else {
      const total = micro.reduce((n, b) => n + countedTokens(b), 0);
      if (total === 0) throw new GpuError('this step has no trained tokens (every label is -100)');
      this.scaleWords[0] = 1 / total;
      this.scaleWords[1] = 1 / total;
    }
    this.gpu.write(this.model.lossScale, this.scaleWords);
  }

  /** Preference (DPO, IPO): the reference log-probs, by the base model alone; before the policy's forward. */
  recordReference(rec: Recorder, B: number, T: number): void {
    if (!this.usesReference) return;
    const { model } = this;
    model.recordForward(rec, B, T, 0, false);
    model.recordTokenLosses(rec, B, T, this.refTokenLosses);
    const ref = this.refTokenLosses;
    // tokens and ratio (0 here) are written again by the policy's pass.
    sequenceLogps(rec, { logp: this.ref, tokens: this.tokens, ratio: this.ratio }, ref, model.acts.targets, ref, B, T, model.spec.vocabSize);
  }

  /** The policy's sequence log-probs, the loss, the metrics and -dL/dlogp per row (preference). */
  private recordPreference(rec: Recorder, B: number, T: number): void {
    const { model } = this;
    model.recordTokenLosses(rec, B, T);
    const losses = model.acts.losses;
    const refLosses = this.usesReference ? this.refTokenLosses : losses;
    sequenceLogps(rec, { logp: this.logp, tokens: this.tokens, ratio: this.ratio }, losses, model.acts.targets, refLosses, B, T, model.spec.vocabSize);
    const io = { coef: this.coef, loss: model.loss, metrics: this.metrics, logp: this.logp, ratio: this.ratio, tokens: this.tokens, scales: model.lossScale };
    preferenceLoss(rec, io, B / 2, this.method as PreferenceMethod, this.beta);
  }

  recordWeights(rec: Recorder, B: number, T: number): void {
    if (this.preference) {
      this.recordPreference(rec, B, T);
      rowWeights(rec, this.tokenWeights, this.coef, B * T, T);
    } else {
      fillWeights(rec, this.tokenWeights, this.model.lossScale, B * T);
    }
  }

  recordLoss(rec: Recorder, B: number, T: number): void {
    // A preference loss was written by preference_loss before the head backward.
    if (!this.preference) lossSum(rec, this.model.loss, this.model.acts.losses, this.tokenWeights, B * T);
  }

  /** The loss (and a preference method's metrics) with no gradient, after recordReference and recordForward. */
  recordEval(rec: Recorder, B: number, T: number): void {
    if (this.preference) {
      this.recordPreference(rec, B, T);
      return;
    }
    this.model.recordTokenLosses(rec, B, T);
    fillWeights(rec, this.tokenWeights, this.model.lossScale, B * T);
    lossSum(rec, this.model.loss, this.model.acts.losses, this.tokenWeights, B * T);
  }

  /** The step's metrics from its metric words (TRL's names; rewards/margins = chosen - rejected). */
  metricsOf(words: Float32Array): StepMetrics {
    const out: StepMetrics = {};
    if (!this.preference) return out;
    const v = (n: MetricName): number => words[METRIC_NAMES.indexOf(n)];
    for (const name of METHOD_METRICS[this.method]) out[name] = name === 'rewards/margins' ? v('rewards/chosen') - v('rewards/rejected') : v(name);
    return out;
  }
}
