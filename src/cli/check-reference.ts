// check-reference DIR [--out-adapter OUT] [--quant none|int8|int4]
//
// Trains from DIR/adapter_init on DIR/batch.json following DIR/reference.json's recipe and, when
// DIR/reference.safetensors and DIR/adapter_final exist, compares logits, every LoRA gradient,
// each step's loss and the final adapter with what PyTorch + PEFT computed. The last stdout line
// is one JSON object (null where nothing could be compared, `missed` listing the bounds of
// fixtures/README.md that were not met); the exit code is 1 when any bound is missed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeGpu } from '../gpu/node';
import type { Gpu } from '../gpu/gpu';
import { readAdapter, writeAdapter } from '../engine/lora/adapter';
import { openModelFolder } from '../engine/model/weights';
import { nodeFolder, fileSource } from '../io/node-files';
import { readSafetensorsHeader, readTensorF32 } from '../io/safetensors';
import { Trainer } from '../engine/train/trainer';
import type { HostTensor } from '../engine/model/spec';
import type { Batch } from '../engine/train/types';
import type { StepMetrics } from '../engine/train/objective';
import { parseCommandLine } from './args';
import type { BaseQuant } from '../engine/model/gpu-weights';
import { checkOutDir } from '../export/out-dir';
import { writeAdapterPair } from '../export/atomic-sink';
import { readReferenceBatch, readReferenceRecipe, recipeHyper } from './reference-fixture';

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export interface CheckReferenceResult {
  fixture: string;
  quant: string;
  /** Whether the reducing kernels ran in their subgroup form (GPUs with wide subgroups). */
  subgroups: boolean;
  loss: number;
  logits_max_abs_err: number | null;
  grad_max_rel_err: number | null;
  grad_worst: string | null;
  grad_tensors: number | null;
  step_losses: number[];
  step_loss_max_rel_err: number | null;
  /** Global gradient norm of each step before clipping (not a bounded quantity: a diagnostic). */
  grad_norms: number[];
  grad_norm_max_rel_err: number | null;
  adapter_max_rel_err: number | null;
  /** Logits after training (eval mode) against PyTorch's, on attended positions. */
  logits_after_training_max_abs_err: number | null;
  /** A preference fixture: its method, and the figures of the first forward against initial_metrics. */
  method: string;
  metrics: Record<string, number | number[]> | null;
  /** Largest error over initial_metrics: relative, absolute where the value is under 1e-3. */
  metrics_max_err: number | null;
  metrics_worst: string | null;
}

/**
 * A preference batch's figures of its first forward, named as fixtures/README.md's initial_metrics:
 * per pair from the trainer's per-sequence log-probs, the batch means from the kernel's metric words.
 */
async function preferenceFigures(trainer: Trainer, batch: Batch, metrics: StepMetrics): Promise<Record<string, number | number[]>> {
  const P = batch.pairs ?? 0;
  const { logp, ref, ratio, tokens } = await trainer.sequenceFigures(batch.B);
  const beta = trainer.hyper.beta;
  const pick = (a: Float32Array, k: 0 | 1) => Array.from(a.subarray(k * P, k * P + P));
  const out: Record<string, number | number[]> = {
    policy_chosen_logps: pick(logp, 0),
    policy_rejected_logps: pick(logp, 1),
    chosen_tokens: pick(tokens, 0),
    rejected_tokens: pick(tokens, 1),
  };
  if (trainer.hyper.method === 'orpo') {
    const a = (k: number) => logp[k] / tokens[k];
    out['log_odds'] = Array.from({ length: P }, (_, i) => a(i) - a(P + i) - (Math.log1p(-Math.exp(a(i))) - Math.log1p(-Math.exp(a(P + i)))));
    out['nll'] = metrics['nll_loss'] ?? Number.NaN;
    out['odds_ratio_term'] = beta * (metrics['log_odds_ratio'] ?? Number.NaN);
  } else {
    const reward = (k: number) => beta * ratio[k];
    out['ref_chosen_logps'] = pick(ref, 0);
    out['ref_rejected_logps'] = pick(ref, 1);
    out['rewards_chosen'] = Array.from({ length: P }, (_, i) => reward(i));
    out['rewards_rejected'] = Array.from({ length: P }, (_, i) => reward(P + i));
    out['rewards_margins'] = Array.from({ length: P }, (_, i) => reward(i) - reward(P + i));
    out['rewards_accuracy'] = metrics['rewards/accuracies'] ?? Number.NaN;
  }
  return out;
}

/** The largest error of `got` against `want` (relative; absolute where |want| < 1e-3), and where. */
function metricsError(got: Record<string, number | number[]>, want: Record<string, number | number[]>): { err: number; worst: string | null } {
  let err = 0;
  let worst: string | null = null;
  for (const [k, w] of Object.entries(want)) {
    const g = got[k];
    if (g === undefined) continue;
    const ws = Array.isArray(w) ? w : [w];
    const gs = Array.isArray(g) ? g : [g];
    ws.forEach((wv, i) => {
      const e = Math.abs((gs[i] ?? Number.NaN) - wv) / (Math.abs(wv) < 1e-3 ? 1 : Math.abs(wv));
      if (!(e <= err)) {
        err = e;
        worst = Array.isArray(w) ? `${k}[${i}]` : k;
      }
    });
  }
  return { err, worst };
}

export async function run(args: string[]): Promise<number> {
  const { positional, flags } = parseCommandLine('check-reference', args, { values: ['out-adapter', 'quant'], bools: [], positional: 1 });
  const dir = positional[0];
  if (!dir) {
    process.stderr.write('usage: check-reference DIR [--out-adapter OUT] [--quant none|int8|int4]\n');
    return 2;
  }
  const quant = flags['quant'] ?? 'none';
  if (quant !== 'none' && quant !== 'int8' && quant !== 'int4') {
    process.stderr.write(`check-reference: --quant ${quant} is not one of none, int8, int4\n`);
    return 2;
  }
  const outAdapter = flags['out-adapter'] === undefined ? undefined : await checkOutDir('--out-adapter', flags['out-adapter']);
  const result = await checkReference(dir, { outAdapter, quant });
  const missed = missedBounds(result, await readReferenceRecipe(dir));
  for (const m of missed) process.stderr.write(`check-reference: ${result.fixture}: ${m}\n`);
  process.stdout.write(`${JSON.stringify({ ...result, missed })}\n`);
  return missed.length ? 1 : 0;
}

/** The bounds of fixtures/README.md for a base in f32, and for a quantized base (first loss, and the loss falling). */
export const REFERENCE_BOUNDS = {
  lossRel: 1e-4,
  logitsAbs: 2e-3,
  gradRel: 1e-3,
  stepLossRel: 1e-3,
  adapterRel: 1e-2,
  logitsAfterAbs: 1e-2,
  quantLossRel: { int8: 2e-3, int4: 4e-2 },
  /** initial_metrics of a preference fixture: relative, absolute where the value is under 1e-3. */
  metricsRel: 1e-4,
  /** A quantized run's last loss is at most this fraction of its first. */
  quantFall: 0.8,
} as const;

/** Each bound `r` misses, in words; a measure that could not be taken (null) is not judged. */
export function missedBounds(r: CheckReferenceResult, recipe: { initial_loss?: number }): string[] {
  const b = REFERENCE_BOUNDS;
  const out: string[] = [];
  const over = (what: string, v: number | null, bound: number): void => {
    // Written so that NaN misses too.
    if (v !== null && !(v <= bound)) out.push(`${what} ${v} is over its bound ${bound}`);
  };
  const lossRel = typeof recipe.initial_loss === 'number' ? Math.abs(r.loss - recipe.initial_loss) / Math.abs(recipe.initial_loss) : null;
  if (r.quant === 'int8' || r.quant === 'int4') {
    over('first loss relative error', lossRel, b.quantLossRel[r.quant]);
    const s = r.step_losses;
    if (!(s[s.length - 1] <= b.quantFall * s[0])) out.push(`the loss fell from ${s[0]} to ${s[s.length - 1]}, not below ${b.quantFall} of the first`);
    return out;
  }
  over('first loss relative error', lossRel, b.lossRel);
  over('logits max abs error', r.logits_max_abs_err, b.logitsAbs);
  if (r.grad_tensors === 0) out.push('no gradient could be compared (reference.safetensors has none of the adapter\'s)');
  over(`gradient max relative error (${r.grad_worst})`, r.grad_max_rel_err, b.gradRel);
  over('step loss max relative error', r.step_loss_max_rel_err, b.stepLossRel);
  over('final adapter max relative error', r.adapter_max_rel_err, b.adapterRel);
  over('logits after training max abs error', r.logits_after_training_max_abs_err, b.logitsAfterAbs);
  over(`initial_metrics max error (${r.metrics_worst})`, r.metrics_max_err, b.metricsRel);
  return out;
}

/**
 * Trains DIR's fixture and compares it with PyTorch's figures. `opts.gpu`: run on this GPU (its
 * caller's, left alive: tests share one per file so each fixture reuses the compiled pipelines);
 * otherwise on a GPU of its own, destroyed at the end.
 */
export async function checkReference(dir: string, opts: { outAdapter?: string; quant?: BaseQuant; gpu?: Gpu } = {}): Promise<CheckReferenceResult> {
  const quant = opts.quant ?? 'none';
  const recipe = await readReferenceRecipe(dir);
  const batch = await readReferenceBatch(dir);
  const { spec, weights } = await openModelFolder(nodeFolder(join(dir, 'model')));
  const init = await readAdapter(nodeFolder(join(dir, 'adapter_init')), spec);
  const opt = recipe.optimizer;
  const hyper = recipeHyper(recipe);
  const lora = { ...init.settings, dropout: recipe.lora?.lora_dropout ?? init.settings.dropout };

  const gpu = opts.gpu ?? (await createNodeGpu());
  try {
    const trainer = await Trainer.create(gpu, { spec, weights }, lora, hyper, {
      maxBatch: batch.B,
      maxSeq: batch.T,
      initAdapter: init.tensors,
      quant,
    });
    const refPath = join(dir, 'reference.safetensors');
    const ref = existsSync(refPath) ? await fileSource(refPath) : null;
    const refIndex = ref ? await readSafetensorsHeader(ref) : null;
    const refTensor = async (name: string): Promise<Float32Array | null> =>
      ref && refIndex && refIndex.tensors.has(name) ? readTensorF32(ref, refIndex, name) : null;

    // Logits on positions with attention_mask 1, against a reference tensor (of rows `first`..:
    // a preference fixture keeps the chosen rows' and the rejected rows' in two tensors of their own length).
    const V = spec.vocabSize;
    const rowsError = (got: Float32Array, want: Float32Array, first: number, rows: number): number => {
      const Tw = want.length / (rows * V);
      let err = 0;
      for (let b = 0; b < rows; b++) {
        for (let t = 0; t < Tw; t++) {
          const i = (first + b) * batch.T + t;
          if (!batch.attentionMask[i]) continue;
          for (let v = 0; v < V; v++) err = Math.max(err, Math.abs(got[i * V + v] - want[(b * Tw + t) * V + v]));
        }
      }
      return err;
    };
    const logitsError = async (name: string): Promise<number | null> => {
      const P = batch.pairs;
      if (P) {
        const [c, r] = [await refTensor(`chosen_${name}`), await refTensor(`rejected_${name}`)];
        if (!c || !r) return null;
        const got = await trainer.logits(batch);
        return Math.max(rowsError(got, c, 0, P), rowsError(got, r, P, P));
      }
      const want = await refTensor(name);
      if (!want) return null;
      return rowsError(await trainer.logits(batch), want, 0, batch.B);
    };
    const logitsErr = await logitsError('logits');

    // Step 1 split in two so the gradients can be compared before the update.
    const stepLosses: number[] = [];
    const first = await trainer.accumulate([batch]);
    stepLosses.push(first.loss);
    const figures = batch.pairs ? await preferenceFigures(trainer, batch, first.metrics) : null;
    const metricsErr = figures && recipe.initial_metrics ? metricsError(figures, recipe.initial_metrics) : null;
    let gradMax: number | null = null;
    let gradWorst: string | null = null;
    let gradTensors = 0;
    if (refIndex) {
      const grads = await trainer.gradients();
      gradMax = 0;
      for (const [key, t] of grads) {
        const want = await refTensor(`grad.${key}`);
        if (!want) continue;
        gradTensors++;
        const e = relL2(t.data, want);
        if (!(e <= gradMax)) {
          gradMax = e;
          gradWorst = key;
        }
      }
      if (gradTensors === 0) gradMax = null;
    }
    const gradNorms = [(await trainer.optimizerStep()).gradNorm];
    for (let s = 1; s < opt.steps; s++) {
      const step = await trainer.trainStep([batch]);
      stepLosses.push(step.loss);
      gradNorms.push(step.gradNorm ?? Number.NaN);
    }

    const refLosses = recipe.losses_per_step ?? null;
    let stepErr: number | null = null;
    if (refLosses && refLosses.length === stepLosses.length) {
      stepErr = Math.max(...stepLosses.map((l, i) => Math.abs(l - refLosses[i]) / Math.abs(refLosses[i])));
    }

    const refNorms = recipe.grad_norms_per_step_before_clip ?? null;
    let normErr: number | null = null;
    if (refNorms && refNorms.length === gradNorms.length) {
      normErr = Math.max(...gradNorms.map((g, i) => Math.abs(g - refNorms[i]) / Math.abs(refNorms[i])));
    }

    const afterErr = await logitsError('logits_after_training');
    const finalTensors = await trainer.exportAdapter();
    let adapterErr: number | null = null;
    if (existsSync(join(dir, 'adapter_final'))) {
      const final = await readAdapter(nodeFolder(join(dir, 'adapter_final')), spec);
      adapterErr = 0;
      for (const [key, want] of final.tensors) {
        const got = finalTensors.get(key);
        if (!got) throw new Error(`trained adapter lacks ${key}`);
        adapterErr = Math.max(adapterErr, relL2(got.data, want.data));
      }
    }

    const outDir = opts.outAdapter;
    if (outDir) {
      const { config, safetensors } = writeAdapter(spec, lora, finalTensors as Map<string, HostTensor>, init.baseModel);
      await writeAdapterPair(await checkOutDir('--out-adapter', outDir), config, safetensors, '--out-adapter');
    }
    trainer.destroy();
    return {
      fixture: dir.replace(/\/+$/, '').split('/').pop() ?? dir,
      quant,
      subgroups: gpu.subgroups,
      loss: stepLosses[0],
      logits_max_abs_err: logitsErr,
      grad_max_rel_err: gradMax,
      grad_worst: gradWorst,
      grad_tensors: gradMax === null ? null : gradTensors,
      step_losses: stepLosses,
      step_loss_max_rel_err: stepErr,
      grad_norms: gradNorms,
      grad_norm_max_rel_err: normErr,
      adapter_max_rel_err: adapterErr,
      logits_after_training_max_abs_err: afterErr,
      method: hyper.method,
      metrics: figures,
      metrics_max_err: metricsErr?.err ?? null,
      metrics_worst: metricsErr?.worst ?? null,
    };
  } finally {
    if (!opts.gpu) gpu.destroy();
  }
}
