// The recipe's data: exactly what `cli train` feeds its trainer for the same settings and seed. It
// calls the trainer's own path (prepareDataset with the max length, splitValidation by the seed,
// TrainingPlan's micro-batches per step, plan.batchesOf for validation), and writes each row of each
// micro-batch unpadded, tagged with its optimizer step and micro-batch, so train.py can rebuild the
// same steps on any number of GPUs.
import { prepareDataset, type PreparedDataset } from '../../data/pipeline';
import type { DatasetInput } from '../../data/records/record-source';
import type { ModelTokenizer } from '../../data/tokenizer';
import { planItems, tableItems, TrainingPlan } from '../../engine/train/plan';
import { splitItems } from '../../engine/train/loop';
import { preparePreferenceDataset, type PreparedPreference } from '../../data/preference';
import type { Batch } from '../../engine/train/types';
import type { RecipeSettings } from './settings';

/** One row of a batch as train.py reads it (labels not shifted: -100 where the loss is masked). */
export interface RecipeRow {
  input_ids: number[];
  labels: number[];
  /** A preference batch's row: its pair within the micro-batch, and which side it is. */
  pair?: number;
  side?: 'chosen' | 'rejected';
}

export interface PlannedData {
  prepared: PreparedDataset | PreparedPreference;
  plan: TrainingPlan;
  trainExamples: number;
  validationExamples: number;
  /** Validation batches, as the trainer evaluates them (mean of per-batch means). */
  valBatches: Batch[];
}

/** Prepares and plans the data as cli train does (the same functions, in the same order). */
export async function planRecipeData(source: DatasetInput, fileName: string, tok: ModelTokenizer, s: RecipeSettings): Promise<PlannedData> {
  const preference = s.train.method !== 'sft';
  const prepared = preference
    ? await preparePreferenceDataset(source, tok, { fileName, maxLength: s.maxLength, maxPromptLength: s.maxPromptLength, skipInvalid: s.skipInvalid })
    : await prepareDataset(source, tok, {
        fileName,
        format: s.format === 'auto' ? undefined : s.format,
        maxLength: s.maxLength,
        skipInvalid: s.skipInvalid,
      });
  const items = 'pairs' in prepared ? planItems(prepared.pairs) : tableItems(prepared.examples);
  const { train, validation } = splitItems(items, s.valFraction, s.train.seed);
  const plan = new TrainingPlan(train, {
    batchSize: s.batchSize,
    gradAccum: s.train.gradAccum,
    padId: tok.padId,
    seed: s.train.seed,
    maxSteps: s.maxSteps,
    epochs: s.epochs,
    maxLength: s.maxLength,
    packing: s.packing,
  });
  return { prepared, plan, trainExamples: train.length, validationExamples: validation.length, valBatches: plan.batchesOf(validation) };
}

/**
 * The rows of a batch without their padding (attention mask 0). A packed row (Batch.positions) is
 * written as its examples, one row each: train.py then trains the same targets (a packed example's
 * first label is -100, as a row's first token is never a target) without needing packed attention.
 */
export function batchRows(b: Batch): RecipeRow[] {
  const rows: RecipeRow[] = [];
  if (b.pairs) {
    // A preference batch: rows 0..P-1 chosen, P..2P-1 rejected; each its own sequence.
    const P = b.pairs;
    for (let r = 0; r < b.B; r++) {
      const o = r * b.T;
      let n = 0;
      while (n < b.T && b.attentionMask[o + n] === 1) n++;
      const side = r < P ? 'chosen' : 'rejected';
      rows.push({ input_ids: Array.from(b.inputIds.subarray(o, o + n)), labels: Array.from(b.labels.subarray(o, o + n)), pair: r % P, side });
    }
    return rows;
  }
  for (let r = 0; r < b.B; r++) {
    const o = r * b.T;
    let s = 0;
    while (s < b.T && b.attentionMask[o + s] === 1) {
      let n = s + 1;
      while (n < b.T && b.attentionMask[o + n] === 1 && !(b.positions && b.positions[o + n] === 0)) n++;
      rows.push({ input_ids: Array.from(b.inputIds.subarray(o + s, o + n)), labels: Array.from(b.labels.subarray(o + s, o + n)) });
      s = n;
    }
  }
  return rows;
}

/**
 * data/train.jsonl: every row of every step from `fromStep` (a continued run's steps done are left
 * out; the rest keep the run's step numbers), in order; `step` and `micro` are 0-based.
 */
export function* trainLines(plan: TrainingPlan, fromStep = 0): Generator<string> {
  for (let step = fromStep; step < plan.totalSteps; step++) {
    const { micro: batches } = plan.microBatches(step);
    for (let micro = 0; micro < batches.length; micro++) {
      for (const row of batchRows(batches[micro])) yield JSON.stringify({ step, micro, ...row });
    }
  }
}

/** data/validation.jsonl: every row of every validation batch, in order. */
export function* validationLines(batches: readonly Batch[]): Generator<string> {
  for (let batch = 0; batch < batches.length; batch++) {
    for (const row of batchRows(batches[batch])) yield JSON.stringify({ batch, ...row });
  }
}
