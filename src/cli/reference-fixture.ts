// A reference fixture's recipe (reference.json) and batch (batch.json), as fixtures/README.md
// describes them: what check-reference trains on, and what the library → training test replays.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_TRAIN, type Batch, type Method, type TrainHyper } from '../engine/train/types';

export interface ReferenceRecipe {
  initial_loss?: number;
  /** A preference fixture's method and beta (absent: SFT). */
  method?: Method;
  beta?: number;
  /** A preference fixture's figures of the first forward (fixtures/README.md). */
  initial_metrics?: Record<string, number | number[]>;
  lora?: { lora_dropout?: number };
  optimizer: {
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    grad_clip_max_norm?: number | null;
    steps: number;
    schedule?: string;
  };
  losses_per_step?: number[];
  grad_norms_per_step_before_clip?: number[];
}

export async function readReferenceRecipe(dir: string): Promise<ReferenceRecipe> {
  return JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as ReferenceRecipe;
}

/** DIR/batch.json as one Batch: a missing attention_mask is all 1, missing labels are the input ids where the mask is 1. */
export async function readReferenceBatch(dir: string): Promise<Batch> {
  const file = join(dir, 'batch.json');
  return readBatch(JSON.parse(await readFile(file, 'utf8')), file);
}

function readBatch(json: unknown, file: string): Batch {
  const pref = json as Record<string, number[][] | undefined>;
  if (pref['chosen_input_ids']) return readPairBatch(pref, file);
  const j = json as { input_ids?: number[][]; attention_mask?: number[][]; labels?: number[][] };
  if (!Array.isArray(j.input_ids) || j.input_ids.length === 0) throw new Error(`${file}: input_ids must be a non-empty list of rows`);
  const B = j.input_ids.length;
  const T = j.input_ids[0].length;
  const flat = (rows: number[][] | undefined, field: string, fill: (b: number, t: number) => number): Int32Array => {
    const out = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const row = rows?.[b];
      if (rows && (!Array.isArray(row) || row.length !== T)) throw new Error(`${file}: ${field}[${b}] must have ${T} entries`);
      for (let t = 0; t < T; t++) out[b * T + t] = row ? row[t] : fill(b, t);
    }
    return out;
  };
  const inputIds = flat(j.input_ids, 'input_ids', () => 0);
  const attentionMask = flat(j.attention_mask, 'attention_mask', () => 1);
  const labels = flat(j.labels, 'labels', (b, t) => (attentionMask[b * T + t] ? inputIds[b * T + t] : -100));
  return { B, T, inputIds, attentionMask, labels };
}

/**
 * A preference fixture's pairs as one preference batch: the chosen rows, then the rejected rows,
 * right-padded to the longer side (mask 0, label -100).
 */
function readPairBatch(j: Record<string, number[][] | undefined>, file: string): Batch {
  const side = (name: 'chosen' | 'rejected') => {
    const ids = j[`${name}_input_ids`];
    if (!Array.isArray(ids) || ids.length === 0) throw new Error(`${file}: ${name}_input_ids must be a non-empty list of rows`);
    return readBatch({ input_ids: ids, attention_mask: j[`${name}_attention_mask`], labels: j[`${name}_labels`] }, file);
  };
  const [c, r] = [side('chosen'), side('rejected')];
  if (c.B !== r.B) throw new Error(`${file}: ${c.B} chosen rows but ${r.B} rejected rows`);
  const P = c.B;
  const T = Math.max(c.T, r.T);
  const B = 2 * P;
  const out: Batch = { B, T, inputIds: new Int32Array(B * T), attentionMask: new Int32Array(B * T), labels: new Int32Array(B * T).fill(-100), pairs: P };
  [c, r].forEach((s, k) => {
    for (let b = 0; b < P; b++) {
      for (let t = 0; t < s.T; t++) {
        const [to, from] = [(k * P + b) * T + t, b * s.T + t];
        out.inputIds[to] = s.inputIds[from];
        out.attentionMask[to] = s.attentionMask[from];
        out.labels[to] = s.labels[from];
      }
    }
  });
  return out;
}

/** The recipe's optimizer as the trainer's settings: constant rate, no warmup, one micro-batch a step, no checkpointing. */
export function recipeHyper(recipe: ReferenceRecipe): TrainHyper {
  const opt = recipe.optimizer;
  return {
    ...DEFAULT_TRAIN,
    lr: opt.lr,
    schedule: 'constant',
    warmupSteps: 0,
    maxSteps: opt.steps,
    gradAccum: 1,
    beta1: opt.betas[0],
    beta2: opt.betas[1],
    eps: opt.eps,
    weightDecay: opt.weight_decay,
    maxGradNorm: opt.grad_clip_max_norm ?? 0,
    checkpointing: false,
    method: recipe.method ?? 'sft',
    beta: recipe.beta ?? DEFAULT_TRAIN.beta,
  };
}
