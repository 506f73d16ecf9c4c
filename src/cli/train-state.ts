// The CLI's checkpoint: `training_state.safetensors` in --out, written atomically every
// --checkpoint-every steps, at the end, on stop and before a diverged step's error. It holds the
// LoRA parameters and both AdamW moments (F32), and in its metadata the step, the command line
// that started the run and the sha256 of the data file. The data order and the dropout masks are
// pure functions of (seed, step) (TrainingPlan, Trainer.dropoutSeed), so the step is the whole
// RNG state: `train --resume DIR` rebuilds the same plan and continues with the losses the
// uninterrupted run has.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSafetensors, writeSafetensors } from '../io/safetensors';
import type { TrainerState } from '../engine/train/trainer';
import { writeFileAtomic } from './out-dir';

export const TRAIN_STATE_FILE = 'training_state.safetensors';
const FORMAT = 'lora-studio-cli-train-state';
const VERSION = '1';

export class TrainStateError extends Error {
  override name = 'TrainStateError';
}

export interface SavedRun {
  state: TrainerState;
  /** The arguments of the run (without --resume). */
  args: string[];
  dataSha256: string;
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

export async function saveTrainState(dir: string, run: SavedRun): Promise<void> {
  const { state } = run;
  const t = (name: string, data: Float32Array) => ({ name, dtype: 'F32' as const, shape: [data.length], data });
  const bytes = writeSafetensors([t('params', state.params), t('adam.m', state.m), t('adam.v', state.v)], {
    format: FORMAT,
    version: VERSION,
    step: String(state.step),
    args: JSON.stringify(run.args),
    data_sha256: run.dataSha256,
  }, TRAIN_STATE_FILE);
  await writeFileAtomic(join(dir, TRAIN_STATE_FILE), bytes);
}

/** The checkpoint in `dir`; `flag` names the option that gave dir in a missing file's error. */
export async function loadTrainState(dir: string, flag = '--resume'): Promise<SavedRun> {
  const path = join(dir, TRAIN_STATE_FILE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new TrainStateError(`${flag} ${dir}: no ${TRAIN_STATE_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it is written by train into its --out`);
  }
  const file = parseSafetensors(path, bytes);
  const meta = file.metadata ?? {};
  if (meta.format !== FORMAT || meta.version !== VERSION) throw new TrainStateError(`${path}: not a checkpoint of this version of train (format ${meta.format}, version ${meta.version})`);
  const step = Number(meta.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new TrainStateError(`${path}: metadata "step" is ${JSON.stringify(meta.step)}, not a step count`);
  let args: unknown;
  try {
    args = JSON.parse(meta.args ?? '');
  } catch {
    args = null;
  }
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new TrainStateError(`${path}: metadata "args" is not a list of arguments`);
  if (typeof meta.data_sha256 !== 'string') throw new TrainStateError(`${path}: metadata "data_sha256" is missing`);
  const names = ['params', 'adam.m', 'adam.v'];
  for (const n of names) if (!file.index.tensors.has(n)) throw new TrainStateError(`${path}: tensor "${n}" is missing`);
  const [params, m, v] = names.map((n) => file.f32(n));
  return { state: { step, params, m, v }, args: args as string[], dataSha256: meta.data_sha256 };
}
