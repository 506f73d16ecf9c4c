// The CLI's checkpoint: `training_state.safetensors` in --out, written atomically every
// --checkpoint-every steps, at the end, on stop and before a diverged step's error. It holds the
// LoRA parameters and both AdamW moments (F32), and in its metadata the step, the command line
// that started the run and the sha256 of the data file. The data order and the dropout masks are
// pure functions of (seed, step) (TrainingPlan, Trainer.dropoutSeed), so the step is the whole
// RNG state: `train --resume DIR` rebuilds the same plan and continues with the losses the
// uninterrupted run has.
import { parseUntrustedJson } from '../io/untrusted/json';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSafetensors, readSafetensorsHeader, writeSafetensors } from '../io/safetensors';
import { nodeFolder } from '../io/node-files';
import type { TrainerState } from '../engine/train/trainer';
import type { RunFlags } from './run-flags';
import { writeFileAtomic } from '../export/atomic-sink';

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
  /** The base model it trains (absent in checkpoints written before fingerprints). */
  model?: ModelFingerprint;
}

/**
 * Flags a checkpoint fixes, with the run setting each decides (compared after parsing, so "4" and
 * "4.0" agree): the adapter's shape and scale, whose parameters and moments it holds, and what
 * decides the order of the steps done (TrainingPlan is a pure function of these and the seed).
 * `data-format` is train's --format.
 */
export const FIXED_RUN_SETTINGS: ReadonlyArray<[flag: string, value: (r: RunFlags) => unknown]> = [
  ['rank', (r) => r.lora.r],
  ['alpha', (r) => r.lora.alpha],
  ['targets', (r) => [...r.lora.targetModules].sort()],
  ['rslora', (r) => r.lora.useRslora],
  ['init-adapter', (r) => r.initAdapter],
  ['seed', (r) => r.hyper.seed],
  ['batch-size', (r) => r.batchSize],
  ['grad-accum', (r) => r.hyper.gradAccum],
  ['max-length', (r) => r.maxLength],
  ['max-prompt-length', (r) => r.maxPromptLength],
  // SFT examples or preference pairs: what a step's batch holds.
  ['method', (r) => r.hyper.method],
  ['val-fraction', (r) => r.valFraction],
  ['data-format', (r) => r.format],
  ['skip-invalid', (r) => r.skipInvalid],
  ['packing', (r) => r.packing],
];

/** A fixed setting `before` (the checkpoint's run) and `after` (this run) disagree on: flag, old and new value. */
export function fixedSettingChanges(before: RunFlags, after: RunFlags): { flag: string; was: string; now: string }[] {
  const out: { flag: string; was: string; now: string }[] = [];
  for (const [flag, value] of FIXED_RUN_SETTINGS) {
    const was = JSON.stringify(value(before)) ?? 'none';
    const now = JSON.stringify(value(after)) ?? 'none';
    if (was !== now) out.push({ flag, was, now });
  }
  return out;
}

/**
 * What identifies a base model folder: the sha256 of config.json and, per tensor, the sha256 of
 * its safetensors header entry and of samples of its bytes (its first, middle and last 4 KiB):
 * reading a few KiB per tensor, it tells apart two models of the same shapes (other weights
 * differ everywhere) without reading gigabytes at every resume.
 */
export interface ModelFingerprint {
  config: string;
  tensors: Record<string, string>;
}

const SAMPLE_BYTES = 4096;

export async function modelFingerprint(dir: string): Promise<ModelFingerprint> {
  const folder = nodeFolder(dir);
  const hex = (b: string | Uint8Array): string => createHash('sha256').update(b).digest('hex');
  const tensors: Record<string, string> = {};
  const files = (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort();
  for (const f of files) {
    const src = await folder.source(f);
    const index = await readSafetensorsHeader(src);
    for (const [name, info] of index.tensors) {
      const h = createHash('sha256').update(JSON.stringify([info.dtype, info.shape]));
      const len = info.end - info.begin;
      for (const at of [0, Math.floor(len / 2), len - SAMPLE_BYTES]) {
        const from = Math.max(0, Math.min(at, len - 1));
        const n = Math.max(0, Math.min(SAMPLE_BYTES, len - from));
        if (n) h.update(await src.read(info.begin + from, n));
      }
      tensors[name] = h.digest('hex').slice(0, 32);
    }
  }
  return { config: hex(await readFile(join(dir, 'config.json'))), tensors };
}

/** How `now` differs from the checkpoint's `was` ("config.json", or the first tensor that differs), or null. */
export function fingerprintDifference(was: ModelFingerprint, now: ModelFingerprint): string | null {
  if (was.config !== now.config) return 'its config.json differs';
  for (const [name, h] of Object.entries(was.tensors)) {
    if (!Object.hasOwn(now.tensors, name)) return `it has no tensor "${name}"`;
    if (now.tensors[name] !== h) return `its tensor "${name}" differs`;
  }
  const extra = Object.keys(now.tensors).find((n) => !Object.hasOwn(was.tensors, n));
  return extra ? `it has a tensor "${extra}" the checkpoint's model has not` : null;
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
    ...(run.model ? { model_fingerprint: JSON.stringify(run.model) } : {}),
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
    args = parseUntrustedJson(meta.args ?? '', path); // own file, but one reader for JSON from disk
  } catch {
    args = null;
  }
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new TrainStateError(`${path}: metadata "args" is not a list of arguments`);
  if (typeof meta.data_sha256 !== 'string') throw new TrainStateError(`${path}: metadata "data_sha256" is missing`);
  const names = ['params', 'adam.m', 'adam.v'];
  for (const n of names) if (!file.index.tensors.has(n)) throw new TrainStateError(`${path}: tensor "${n}" is missing`);
  const [params, m, v] = names.map((n) => file.f32(n));
  let model: ModelFingerprint | undefined;
  if (meta.model_fingerprint !== undefined) {
    try {
      model = parseUntrustedJson(meta.model_fingerprint, path) as ModelFingerprint;
    } catch {
      model = undefined;
    }
    if (!model || typeof model.config !== 'string' || typeof model.tensors !== 'object' || model.tensors === null) {
      throw new TrainStateError(`${path}: metadata "model_fingerprint" is not a model fingerprint`);
    }
  }
  return { state: { step, params, m, v }, args: args as string[], dataSha256: meta.data_sha256, ...(model ? { model } : {}) };
}
