// `bench --model MODEL_DIR --data FILE --batch B --seq T [--packing]`: the training benchmark on a
// real model folder and a real dataset. The file is prepared as `train` prepares it (the folder's
// tokenizer and chat template, truncation at T; src/data/pipeline.ts) and batched by the run's own
// batcher (TrainingPlan: batch B, max length T, the default seed, packed or padded), so the steps
// time the batches a `train --batch-size B --max-length T [--packing]` run would see.
import { DatasetError, formatIssues } from '../data/errors';
import { prepareDataset } from '../data/pipeline';
import type { BenchData } from '../engine/bench/train-bench';
import { openModelFolder } from '../engine/model/weights';
import { tableItems, TrainingPlan } from '../engine/train/plan';
import { DEFAULT_TRAIN } from '../engine/train/types';
import { nodeFolder } from '../io/node-files';
import { loadModelTokenizer, openDataFile } from './prepare';

/** `vsPadded` (with packing) adds the same data's padded plan, timed beside the packed one. */
export async function loadBenchData(modelDir: string, dataFile: string, batch: number, seq: number, packing: boolean, vsPadded = false): Promise<BenchData> {
  const { spec, weights } = await openModelFolder(nodeFolder(modelDir));
  const tok = await loadModelTokenizer(modelDir);
  let prepared;
  try {
    prepared = await prepareDataset(openDataFile(dataFile), tok, { fileName: dataFile, maxLength: seq });
  } catch (e) {
    if (e instanceof DatasetError) throw new DatasetError(`--data ${dataFile}: ${e.message}${formatIssues(e.issues, e.issueCount, 5).map((l) => `\n${l}`).join('')}`, e.issues, e.issueCount);
    throw e;
  }
  const planOf = (packed: boolean) => new TrainingPlan(tableItems(prepared.examples), { batchSize: batch, gradAccum: 1, padId: tok.padId, seed: DEFAULT_TRAIN.seed, maxLength: seq, packing: packed });
  return { spec, weights, plan: planOf(packing), padded: packing && vsPadded ? planOf(false) : undefined };
}
