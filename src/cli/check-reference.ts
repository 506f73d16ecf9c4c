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
import { readAdapter, writeAdapter } from '../engine/lora/adapter';
import { openModelFolder } from '../engine/model/weights';
import { nodeFolder, fileSource } from '../io/node-files';
import { readSafetensorsHeader, readTensorF32 } from '../io/safetensors';
import { Trainer } from '../engine/train/trainer';
import type { HostTensor } from '../engine/model/spec';
import { parseCommandLine } from './args';
import type { BaseQuant } from '../engine/model/gpu-weights';
import { checkOutDir, writeAdapterPair } from '../export/out-dir';
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
  return out;
}

export async function checkReference(dir: string, opts: { outAdapter?: string; quant?: BaseQuant } = {}): Promise<CheckReferenceResult> {
  const quant = opts.quant ?? 'none';
  const recipe = await readReferenceRecipe(dir);
  const batch = await readReferenceBatch(dir);
  const { spec, weights } = await openModelFolder(nodeFolder(join(dir, 'model')));
  const init = await readAdapter(nodeFolder(join(dir, 'adapter_init')), spec);
  const opt = recipe.optimizer;
  const hyper = recipeHyper(recipe);
  const lora = { ...init.settings, dropout: recipe.lora?.lora_dropout ?? init.settings.dropout };

  const gpu = await createNodeGpu();
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

    // Logits on positions with attention_mask 1, against a reference tensor.
    const logitsError = async (name: string): Promise<number | null> => {
      const want = await refTensor(name);
      if (!want) return null;
      const got = await trainer.logits(batch);
      const V = spec.vocabSize;
      let err = 0;
      for (let i = 0; i < batch.B * batch.T; i++) {
        if (!batch.attentionMask[i]) continue;
        for (let v = 0; v < V; v++) err = Math.max(err, Math.abs(got[i * V + v] - want[i * V + v]));
      }
      return err;
    };
    const logitsErr = await logitsError('logits');

    // Step 1 split in two so the gradients can be compared before the update.
    const stepLosses: number[] = [];
    const first = await trainer.accumulate([batch]);
    stepLosses.push(first.loss);
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
    };
  } finally {
    gpu.destroy();
  }
}
