// The training objective's kernels (shaders/objective.wgsl): the per-token gradient weights the
// fused cross-entropy scales each row by, per-sequence log-probabilities, and TRL's preference
// losses (DPO sigmoid, IPO, ORPO) with their metrics. GPU dispatches and plain-loop CPU twins.
import code from '../../../shaders/objective.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';
import { withWorkgroupReductions } from './reductions';

export const objectiveShader = withWorkgroupReductions('objective', code);
const WG = 256;

export type PreferenceMethod = 'dpo' | 'ipo' | 'orpo';
/** The shader's method codes. */
const METHOD_CODE: Record<PreferenceMethod, number> = { dpo: 1, ipo: 2, orpo: 3 };

/**
 * The metric words preference_loss accumulates over a step's micro-batches, by TRL's names: each
 * word's step total is a mean over the step's pairs (nll_loss: over its chosen tokens).
 */
export const METRIC_NAMES = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'logps/chosen',
  'logps/rejected',
  'nll_loss',
  'log_odds_ratio',
  'log_odds_chosen',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export const METRIC_WORDS = METRIC_NAMES.length;

interface Shape {
  N?: number;
  T?: number;
  V?: number;
  P?: number;
  method?: number;
  beta?: number;
}
const uniforms = (s: Shape) => ({ N: s.N ?? 0, T: s.T ?? 1, V: s.V ?? 0, P: s.P ?? 0, method: s.method ?? 0, beta: s.beta ?? 0 });

/** weights[t] = scales[0] for t < N (SFT: every token weighs 1 / counted tokens of the step). */
export function fillWeights(rec: Recorder, weights: Buf, scales: Buf, N: number): void {
  rec.dispatch({
    shader: objectiveShader,
    entry: 'fill_weights',
    overrides: { WG },
    uniforms: uniforms({ N }),
    bindings: [weights, scales],
    workgroups: grid(Math.ceil(N / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** weights[t] = coef[floor(t / T)] for t < N: a row's coefficient on each of its tokens. */
export function rowWeights(rec: Recorder, weights: Buf, coef: Buf, N: number, T: number): void {
  rec.dispatch({
    shader: objectiveShader,
    entry: 'row_weights',
    overrides: { WG },
    uniforms: uniforms({ N, T }),
    bindings: [weights, coef],
    workgroups: grid(Math.ceil(N / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/**
 * Per row b of B rows of T: logp[b] = -Σ losses, tokens[b] = targets in [0, V), ratio[b] =
 * Σ (refLosses - losses) token by token (the log-ratio to the reference; pass `losses` again where
 * there is none).
 */
export function sequenceLogps(
  rec: Recorder,
  out: { logp: Buf; tokens: Buf; ratio: Buf },
  losses: Buf,
  targets: Buf,
  refLosses: Buf,
  B: number,
  T: number,
  V: number,
): void {
  rec.dispatch({
    shader: objectiveShader,
    entry: 'sequence_logps',
    overrides: { WG },
    uniforms: uniforms({ T, V }),
    bindings: [out.logp, out.tokens, out.ratio, losses, targets, refLosses],
    workgroups: [B],
  });
}

/** preferenceLoss's buffers: written coef (2P), loss (1), metrics (METRIC_WORDS, accumulated); read the rest. */
export interface PreferenceIo<B> {
  coef: B;
  loss: B;
  metrics: B;
  logp: B;
  ratio: B;
  tokens: B;
  scales: B;
}

/**
 * TRL's loss over P pairs (rows 0..P-1 chosen, P..2P-1 rejected): loss[0] = this micro-batch's
 * share of the step's loss, coef[b] = -dL/dlogp[b], metrics (METRIC_WORDS) += its share of the
 * step's means. scales = [1 / chosen tokens of the step, 1 / pairs of the step]. ratio (logp - the
 * reference's, per row) is unused by ORPO.
 */
export function preferenceLoss(rec: Recorder, io: PreferenceIo<Buf>, P: number, method: PreferenceMethod, beta: number): void {
  rec.dispatch({
    shader: objectiveShader,
    entry: 'preference_loss',
    overrides: { WG },
    uniforms: uniforms({ P, method: METHOD_CODE[method], beta }),
    bindings: [io.coef, io.loss, io.metrics, io.logp, io.ratio, io.tokens, io.scales],
    workgroups: [1],
  });
}

export function fillWeightsCpu(weights: Float32Array, scales: Float32Array, N: number): void {
  for (let t = 0; t < N; t++) weights[t] = scales[0];
}

export function rowWeightsCpu(weights: Float32Array, coef: Float32Array, N: number, T: number): void {
  for (let t = 0; t < N; t++) weights[t] = coef[Math.floor(t / T)];
}

export function sequenceLogpsCpu(
  out: { logp: Float32Array; tokens: Float32Array; ratio: Float32Array },
  losses: Float32Array,
  targets: Int32Array,
  refLosses: Float32Array,
  B: number,
  T: number,
  V: number,
): void {
  for (let b = 0; b < B; b++) {
    let s = 0;
    let n = 0;
    let d = 0;
    for (let t = 0; t < T; t++) {
      s += losses[b * T + t];
      d += refLosses[b * T + t] - losses[b * T + t];
      const y = targets[b * T + t];
      if (y >= 0 && y < V) n++;
    }
    out.logp[b] = -s;
    out.tokens[b] = n;
    out.ratio[b] = d;
  }
}

const logSigmoid = (x: number): number => Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** The CPU twin of preferenceLoss (in f64); metrics accumulate as on the GPU. */
export function preferenceLossCpu(out: PreferenceIo<Float32Array>, P: number, method: PreferenceMethod, beta: number): void {
  const { logp, ratio, tokens } = out;
  const [nllScale, ps] = [out.scales[0], out.scales[1]];
  let loss = 0;
  const m = new Float64Array(METRIC_WORDS);
  for (let i = 0; i < P; i++) {
    const [c, r] = [logp[i], logp[P + i]];
    const [nc, nr] = [Math.max(tokens[i], 1), Math.max(tokens[P + i], 1)];
    let gc: number;
    let gr: number;
    let rewC: number;
    let rewR: number;
    if (method === 'orpo') {
      const [ac, ar] = [c / nc, r / nr];
      const lo = ac - ar - (Math.log1p(-Math.exp(ac)) - Math.log1p(-Math.exp(ar)));
      const ls = logSigmoid(lo);
      loss += -c * nllScale - beta * ps * ls;
      const sg = sigmoid(-lo);
      gc = nllScale + (beta * ps * sg) / (nc * -Math.expm1(ac));
      gr = (-beta * ps * sg) / (nr * -Math.expm1(ar));
      [rewC, rewR] = [beta * ac, beta * ar];
      m[5] += -c * nllScale;
      m[6] += ls * ps;
      m[7] += lo * ps;
    } else {
      const [dc, dr] = [ratio[i], ratio[P + i]];
      [rewC, rewR] = [beta * dc, beta * dr];
      if (method === 'ipo') {
        const e = dc / nc - dr / nr - 1 / (2 * beta);
        loss += e * e * ps;
        [gc, gr] = [((-2 * e) / nc) * ps, ((2 * e) / nr) * ps];
      } else {
        const z = beta * (dc - dr);
        loss += -logSigmoid(z) * ps;
        const s = sigmoid(-z);
        [gc, gr] = [beta * s * ps, -beta * s * ps];
      }
    }
    out.coef[i] = gc;
    out.coef[P + i] = gr;
    m[0] += rewC * ps;
    m[1] += rewR * ps;
    m[2] += rewC > rewR ? ps : 0;
    m[3] += c * ps;
    m[4] += r * ps;
  }
  out.loss[0] = loss;
  for (let k = 0; k < METRIC_WORDS; k++) out.metrics[k] += m[k];
}
