// A write the browser refuses for lack of space in the middle of a run (trainRun, run.ts): the run
// is paused at its last checkpoint (resumable, exportable; a reload does not resume it), not left
// "running" to be resumed into the same refusal on every reload; where even its paused record is
// refused, the page notes the pause in localStorage (src/state/run-pause-notes.ts). IndexedDB is fake-indexeddb; the
// browser's refusal is its put throwing QuotaExceededError for the keys a test names. The trainer
// is a stand-in whose losses and states are known functions of the step (no GPU).
import 'fake-indexeddb/auto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadTokenizerDir } from '../data/testdata/fixtures';
import { DEFAULT_TRAIN } from '../engine/train/types';
import type { Gpu } from '../gpu/gpu';
import type { EngineModel, TrainerLike } from './engine-bridge';
import { loadDataset } from './dataset';
import { toErrorInfo, type FromWorker, type ModelSummary, type TrainSettings, type WorkerEvent } from './protocol';
import { RunControl, trainRun } from './run';
import { getRun, interruptedRun, listRuns, loadCheckpoint, RunStoreQuotaError } from './run-store';
import { notePausedRun, withPauseNotes } from '../state/run-pause-notes';
import { memoryStorage } from '../state/testdata/note-storage';
import { canResume, runStateLabel } from '../state/slices/training';

/** The state the stand-in trainer holds after `step` steps. */
const stateAt = (step: number) => ({
  step,
  params: Float32Array.from({ length: 6 }, (_, i) => step * 100 + i),
  m: Float32Array.from({ length: 6 }, (_, i) => step * 10 + i),
  v: Float32Array.from({ length: 6 }, (_, i) => step + i / 10),
});
/** The stand-in's loss at step `step` (1-based). */
const lossAt = (step: number) => 10 / step;

class StandInTrainer implements TrainerLike {
  readonly paramCount = 6;
  /** Steps taken by this trainer (this attempt), and the checkpoint step it was resumed from. */
  taken = 0;
  loadedStep: number | null = null;
  private at = 0;
  async step() {
    this.at++;
    this.taken++;
    return { step: this.at, loss: lossAt(this.at), gradNorm: 1, lr: 1e-3, tokens: 8 };
  }
  async evalLoss() {
    return 1;
  }
  async saveState() {
    return stateAt(this.at);
  }
  loadState(s: { step: number }) {
    this.at = s.step;
    this.loadedStep = s.step;
  }
  async exportAdapter() {
    return new Map();
  }
  destroy() {}
}

let trainer = new StandInTrainer();
vi.mock('./engine-bridge', async (original) => ({ ...(await original<typeof import('./engine-bridge')>()), createTrainer: async () => trainer }));

/** Which IndexedDB keys the "browser" refuses to write now (null: none). */
let refuse: ((key: string) => boolean) | null = null;
const put = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
  if (refuse?.(String(key))) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  return put.call(this, value, key);
};
/** Refuses the first write of a key matching `prefix`, then lets writes through again. */
function refuseOnce(prefix: string): (key: string) => boolean {
  let done = false;
  return (key) => !done && key.startsWith(prefix) && (done = true);
}

const tok = loadTokenizerDir('public/demo');
const chat = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
const file = new TextEncoder().encode(Array.from({ length: 10 }, (_, i) => chat(`What is ${i} plus ${i}?`, `${i} plus ${i} is ${2 * i}.`)).join('\n'));
const settings: TrainSettings = {
  lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false },
  train: { ...DEFAULT_TRAIN, maxSteps: 8 },
  batchSize: 1,
  maxLength: 64,
  checkpointEvery: 3,
  validationExamples: 0,
};
const never = new Promise<never>(() => undefined);

/** The worker's quotaPause reports to the page, in order. */
let reports: Array<Extract<WorkerEvent, { type: 'quotaPause' }>> = [];


/**
 * Runs (or resumes) run `id` with a new stand-in trainer; `armAt(step)` is called as each
 * checkpoint is reported, so a test starts refusing writes from a given checkpoint on.
 */
async function train(id: string, resume: boolean, armAt: (step: number) => void = () => undefined) {
  trainer = new StandInTrainer();
  const { prepared } = await loadDataset(tok, 'chat.jsonl', [{ name: 'chat.jsonl', data: file }], false, () => undefined);
  const post = (msg: FromWorker) => {
    if (msg.kind === 'event' && msg.type === 'checkpoint') armAt(msg.step);
    if (msg.kind === 'event' && msg.type === 'quotaPause') reports.push(msg);
  };
  return trainRun({
    gpu: { device: { lost: never } } as unknown as Gpu,
    model: { engine: {} as EngineModel, summary: { name: 'Demo model', hubId: null } as ModelSummary, tokenizer: tok },
    dataset: { prepared, recorded: () => new Blob([file]), fileName: 'chat.jsonl', skipInvalid: false },
    settings,
    run: { id, resume, model: { source: { kind: 'demo', baseUrl: '/demo/' }, label: 'demo' }, form: {} },
    control: new RunControl(),
    post,
    releasePrevious: () => undefined,
    onTrainer: () => undefined,
  });
}

const steps = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const losses = (n: number) => steps(n).map(lossAt);

beforeEach(() => {
  refuse = null;
  reports = [];
});

describe('a write refused for lack of space mid-run', () => {
  it('pauses the run at its last checkpoint, with the quota error and its history up to that checkpoint', async () => {
    // From the checkpoint of step 3 on, checkpoints are refused: step 6's is the first.
    const e = await train('ckpt-refused', false, (step) => step === 3 && (refuse = (k) => k.startsWith('ckpt|'))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunStoreQuotaError);
    expect((e as Error).message).toMatch(/^Not enough browser storage for the checkpoint of step 6: .* The run is paused at its checkpoint at step 3: free space, then resume it from Past runs \(or export that checkpoint\)\.$/);
    const run = await getRun('ckpt-refused');
    expect(run?.status).toBe('paused');
    expect(run?.error?.name).toBe('RunStoreQuotaError');
    expect(run?.checkpointStep).toBe(3);
    // Steps 4 to 6 were trained, but a resume recomputes them from step 3's checkpoint.
    expect(run?.history.steps).toEqual(steps(3));
    expect(run?.history.loss).toEqual(losses(3));
    const ckpt = await loadCheckpoint('ckpt-refused');
    expect(ckpt).toEqual({ runId: 'ckpt-refused', ...stateAt(3) });
    expect(interruptedRun(await listRuns()), 'a reload does not resume a paused run').toBeNull();
    expect(reports).toEqual([{ kind: 'event', type: 'quotaPause', runId: 'ckpt-refused', checkpointStep: 3, recorded: true }]);
  });

  it('where the checkpoint was written but its record refused, pauses at that checkpoint', async () => {
    // At step 6 the checkpoint is written, the record pointing at it refused once.
    await expect(train('record-refused', false, (step) => step === 3 && (refuse = refuseOnce('run|')))).rejects.toThrow(/paused at its checkpoint at step 6/);
    const run = await getRun('record-refused');
    expect(run?.status).toBe('paused');
    expect(run?.checkpointStep).toBe(6);
    expect(run?.history.steps).toEqual(steps(6));
    expect((await loadCheckpoint('record-refused'))?.step).toBe(6);
  });

  it('paused, it resumes from its checkpoint once space is freed, to the losses of an uninterrupted run', async () => {
    await train('resumed', false, (step) => step === 3 && (refuse = (k) => k.startsWith('ckpt|'))).catch(() => undefined);
    refuse = null;
    const result = await train('resumed', true);
    expect(trainer.loadedStep).toBe(3);
    expect(result.end).toBe('finished');
    const run = await getRun('resumed');
    expect(run?.status).toBe('finished');
    expect(run?.error).toBeNull();
    expect(run?.history.steps).toEqual(steps(8));
    expect(run?.history.loss).toEqual(losses(8));
  });

  it('when its paused record is refused too, the page keeps the pause: a reload lists it paused (storage full), does not resume it, and Resume works once space is freed', async () => {
    // Everything refused from step 3's checkpoint on: the record stays as step 3 wrote it.
    const e = await train('all-refused', false, (step) => step === 3 && (refuse = () => true)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunStoreQuotaError);
    expect((await getRun('all-refused'))?.status).toBe('running');
    expect(reports).toEqual([{ kind: 'event', type: 'quotaPause', runId: 'all-refused', checkpointStep: 3, recorded: false }]);
    // The page's side of the report (the training slice's catch): it notes the pause.
    const storage = memoryStorage();
    const error = notePausedRun('all-refused', reports[0]!.checkpointStep, toErrorInfo(e), storage);
    expect(error.name).toBe('RunStoreQuotaError');
    expect(error.message).toMatch(/Its paused state could not be written either\. The pause is kept in this page's local storage instead: a reload does not resume the run, and Past runs lists it paused at its checkpoint at step 3\./);

    // A reload (nothing can be written still): the page's list of runs, and what it would resume.
    const listed = withPauseNotes(await listRuns(), storage);
    const run = listed.find((r) => r.id === 'all-refused')!;
    expect(runStateLabel(run)).toBe('paused (storage full)');
    expect(run.error?.message).toBe(error.message);
    expect(canResume(run)).toBe(true);
    expect(run.checkpointStep).toBe(3);
    expect(interruptedRun(listed), 'a reload does not resume it').toBeNull();

    // Space freed: Resume continues from step 3's checkpoint to the losses of an uninterrupted run.
    refuse = null;
    const result = await train('all-refused', true);
    expect(trainer.loadedStep).toBe(3);
    expect(result.end).toBe('finished');
    const stored = await getRun('all-refused');
    expect(stored?.history.steps).toEqual(steps(8));
    expect(stored?.history.loss).toEqual(losses(8));
    // Its record is written again: the note is dropped, the run is listed as its record says.
    const after = withPauseNotes(await listRuns(), storage);
    expect(after.find((r) => r.id === 'all-refused')?.status).toBe('finished');
    expect(storage.items.size).toBe(0);
  });

  it('when local storage refuses the note too, the error says so and the next reload tries to resume it, refused before any step until space is freed', async () => {
    const e = await train('nowhere', false, (step) => step === 3 && (refuse = () => true)).catch((x: unknown) => x);
    const storage = memoryStorage(true);
    const error = notePausedRun('nowhere', reports[0]!.checkpointStep, toErrorInfo(e), storage);
    expect(error.message).toMatch(/^Not enough browser storage for the checkpoint of step 6: .* Its paused state could not be written either\. This page's local storage refused to keep the pause too: the run stays marked interrupted, and the next reload tries to resume it again/);
    expect(interruptedRun(withPauseNotes(await listRuns(), storage))?.id).toBe('nowhere');

    // The reload's resume: still nothing can be written. It fails loudly before any step.
    await expect(train('nowhere', true)).rejects.toThrow(/^Not enough browser storage for the record of run nowhere: .*could not be written either/);
    expect(trainer.taken).toBe(0);
    expect((await getRun('nowhere'))?.status).toBe('running');

    // Some space freed: the next resume's "running" record is refused, the paused one after it written.
    refuse = refuseOnce('run|');
    await expect(train('nowhere', true)).rejects.toThrow(/The run is paused at its checkpoint at step 3/);
    expect(trainer.taken).toBe(0);
    const run = await getRun('nowhere');
    expect(run?.status).toBe('paused');
    expect(run?.error?.name).toBe('RunStoreQuotaError');
    expect(run?.checkpointStep).toBe(3);
    expect(run?.history.steps).toEqual(steps(3));
    expect(interruptedRun(await listRuns())).toBeNull();
    expect((await loadCheckpoint('nowhere'))?.step).toBe(3);
  });

  it('a new run whose dataset copy is refused is not stored at all (no paused run without its data)', async () => {
    refuse = (k) => k.startsWith('data|');
    await expect(train('never-stored', false)).rejects.toThrow(/^Not enough browser storage for this run's dataset copy and checkpoint: .*earlier runs and checkpoints are kept\.$/);
    refuse = null;
    expect(await getRun('never-stored')).toBeUndefined();
  });
});
