// How Past runs shows a stored run's state and whether it offers Resume (a paused run says why it
// paused: its GPU device was lost, or the browser's storage was full), and the page's side of a
// pause for lack of space: the panel's heading, and a pause whose record the browser refused too
// (noted in localStorage, src/state/run-pause-notes.ts) across a reload. IndexedDB is
// fake-indexeddb; the engine worker is a stand-in that reports and throws what the worker does.
import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineError, toErrorInfo, type WorkerEvent } from '../../worker/protocol';
import { createRun, emptyHistory, getRun, deleteRun, listRuns, RunStoreQuotaError, saveRun, type RunRecord } from '../../worker/run-store';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { memoryStorage } from '../testdata/note-storage';
import { canResume, runStateLabel, trainingErrorTitle } from './training';

/** The stand-in worker: every call is recorded; `train` runs the test's `onTrain`. */
const worker = vi.hoisted(() => ({
  calls: [] as string[],
  listeners: [] as Array<(ev: unknown) => void>,
  onTrain: null as null | ((run: { id: string; resume: boolean }) => Promise<unknown>),
}));
vi.mock('../engine', () => ({
  engine: () => ({
    on: (l: (ev: unknown) => void) => {
      worker.listeners.push(l);
      return () => undefined;
    },
    call: async (method: string, params: { id?: string; run?: { id: string; resume: boolean } }) => {
      worker.calls.push(method);
      if (method === 'train') return worker.onTrain!(params.run!);
      if (method === 'deleteRun') return deleteRun(params.id!);
      throw new Error(`the stand-in worker does not answer ${method}`);
    },
  }),
}));
/** Posts the stand-in worker's event to the page's listeners. */
const emit = (ev: Extract<WorkerEvent, { type: 'quotaPause' | 'trainState' }>) => worker.listeners.forEach((l) => l(ev));

const run = (p: Partial<RunRecord>) => ({ status: 'running', checkpointStep: 0, error: null, history: emptyHistory(), ...p }) as RunRecord;
const full = toErrorInfo(new RunStoreQuotaError('the checkpoint of step 6', 12_000, null));
const lost = { name: 'GpuDeviceLostError', message: 'GPU device lost (destroyed: no message)' };

describe('Past runs: a stored run', () => {
  it('paused by a refused write says "storage full" and offers Resume from its checkpoint', () => {
    const r = run({ status: 'paused', error: full, checkpointStep: 3 });
    expect(runStateLabel(r)).toBe('paused (storage full)');
    expect(canResume(r)).toBe(true);
  });

  it('paused by a lost device says "GPU lost"', () => {
    expect(runStateLabel(run({ status: 'paused', error: lost, checkpointStep: 3 }))).toBe('paused (GPU lost)');
  });

  it('paused before its first checkpoint still resumes (from its start)', () => {
    expect(canResume(run({ status: 'paused', error: full, checkpointStep: 0 }))).toBe(true);
  });

  it('interrupted, finished, stopped, failed', () => {
    expect(runStateLabel(run({ status: 'running' }))).toBe('interrupted');
    expect(runStateLabel(run({ status: 'finished' }))).toBe('finished');
    expect(runStateLabel(run({ status: 'stopped' }))).toBe('stopped');
    expect(runStateLabel(run({ status: 'failed' }))).toBe('failed');
    expect(canResume(run({ status: 'finished', checkpointStep: 8 }))).toBe(false);
    expect(canResume(run({ status: 'failed', checkpointStep: 0 }))).toBe(false);
    expect(canResume(run({ status: 'stopped', checkpointStep: 4 }))).toBe(true);
  });
});

/** A fresh page (module state, store, listeners), with a model and a dataset ready to train. */
async function openPage() {
  vi.resetModules();
  worker.listeners = [];
  worker.calls = [];
  const { useStudio } = await import('../store');
  return useStudio;
}
function makeReady(page: Awaited<ReturnType<typeof openPage>>) {
  page.setState((s) => ({
    model: { ...s.model, status: 'ready', source: { kind: 'demo', baseUrl: '/demo/' }, sourceLabel: 'demo' },
    dataset: { ...s.dataset, status: 'ready' },
  }));
}

/** What the worker stores for a new run and reports as its quota pause (run.ts). */
async function storedRun(id: string): Promise<RunRecord> {
  const now = new Date().toISOString();
  const record: RunRecord = {
    ...run({ id, status: 'running', checkpointStep: 3 }),
    startedAt: now,
    updatedAt: now,
    model: { source: { kind: 'demo', baseUrl: '/demo/' }, label: 'demo', name: 'Demo model', hubId: null },
    dataset: { fileName: 'chat.jsonl', skipInvalid: false, examples: 10 },
    settings: { train: { ...DEFAULT_TRAIN, maxSteps: 8 } } as RunRecord['settings'],
    form: {},
    history: { steps: [1, 2, 3], loss: [10, 5, 10 / 3], lr: [1e-3, 1e-3, 1e-3], gradNorm: [1, 1, 1], val: [] },
  };
  await createRun(record, new Blob([new Uint8Array(8)]));
  return record;
}
const quotaError = (message: string) => new EngineError({ name: 'RunStoreQuotaError', message });

describe('the training panel after a refused write', () => {
  let storage = memoryStorage();
  beforeEach(() => {
    storage = memoryStorage();
    vi.stubGlobal('localStorage', storage);
    vi.stubGlobal('location', new URL('http://localhost/')); // the page's address (no test hooks)
  });
  /** The ids of the runs a test's stand-in worker stored. */
  const runsToDelete: string[] = [];
  afterEach(async () => {
    vi.unstubAllGlobals();
    for (const r of runsToDelete.splice(0)) await deleteRun(r);
  });

  it('says "Training paused" for a run paused mid-run (storage full or GPU lost), "Training stopped" for a new run refused before it was stored', async () => {
    const page = await openPage();
    makeReady(page);
    worker.onTrain = async (r) => {
      emit({ kind: 'event', type: 'quotaPause', runId: r.id, checkpointStep: 3, recorded: true });
      throw quotaError('Not enough browser storage for the checkpoint of step 6. The run is paused at its checkpoint at step 3.');
    };
    await page.getState().startTraining();
    expect(page.getState().training.error?.name).toBe('RunStoreQuotaError');
    expect(trainingErrorTitle(page.getState().training)).toBe('Training paused');
    expect(storage.items.size, 'its paused record was written: nothing to note').toBe(0);

    worker.onTrain = async () => {
      throw new EngineError({ name: 'RunPausedError', message: 'The GPU device was lost.' });
    };
    await page.getState().startTraining();
    expect(trainingErrorTitle(page.getState().training)).toBe('Training paused');

    worker.onTrain = async () => {
      throw quotaError("Not enough browser storage for this run's dataset copy and checkpoint.");
    };
    await page.getState().startTraining();
    expect(page.getState().training.error?.name).toBe('RunStoreQuotaError');
    expect(trainingErrorTitle(page.getState().training)).toBe('Training stopped');
  });

  it('every write refused: after a reload the run is listed "paused (storage full)" and not resumed; its resume writing the record drops the note', async () => {
    let page = await openPage();
    makeReady(page);
    worker.onTrain = async (r) => {
      runsToDelete.push(r.id);
      await storedRun(r.id); // the record as its checkpoint of step 3 wrote it; nothing after
      emit({ kind: 'event', type: 'quotaPause', runId: r.id, checkpointStep: 3, recorded: false });
      throw quotaError('Not enough browser storage for the checkpoint of step 6. Its paused state could not be written either.');
    };
    await page.getState().startTraining();
    const id = runsToDelete[0]!;
    expect(trainingErrorTitle(page.getState().training)).toBe('Training paused');
    expect(page.getState().training.error?.message).toMatch(/could not be written either\. The pause is kept in this page's local storage instead: a reload does not resume the run/);
    expect(storage.items.size).toBe(1);
    expect((await getRun(id))?.status).toBe('running');

    // The reload: the runs are listed, an interrupted one would be resumed. This one is not.
    page = await openPage();
    await page.getState().refreshRuns();
    await page.getState().resumeInterrupted();
    expect(worker.calls, 'nothing loaded or trained').toEqual([]);
    expect(page.getState().training.resuming).toBeNull();
    const listed = page.getState().pastRuns.find((r) => r.id === id)!;
    expect(runStateLabel(listed)).toBe('paused (storage full)');
    expect(canResume(listed)).toBe(true);

    // Resume (Past runs ends in startTraining(id)): once the worker's loop runs, its record is
    // written as running again, and the note is dropped: a reload from here resumes it.
    makeReady(page);
    worker.onTrain = async (r) => {
      const record = (await getRun(r.id))!;
      await saveRun(record);
      emit({ kind: 'event', type: 'trainState', state: 'running' });
      throw new Error('the page went away mid-run');
    };
    await page.getState().startTraining(id);
    expect(storage.items.size).toBe(0);
    page = await openPage();
    await page.getState().refreshRuns();
    expect(runStateLabel(page.getState().pastRuns.find((r) => r.id === id)!)).toBe('interrupted');
  });

  it('a noted run that is deleted takes its note with it (the list drops notes of runs no longer stored)', async () => {
    const page = await openPage();
    makeReady(page);
    worker.onTrain = async (r) => {
      runsToDelete.push(r.id);
      await storedRun(r.id);
      emit({ kind: 'event', type: 'quotaPause', runId: r.id, checkpointStep: 3, recorded: false });
      throw quotaError('Not enough browser storage for the checkpoint of step 6.');
    };
    await page.getState().startTraining();
    expect(storage.items.size).toBe(1);
    await page.getState().deletePastRun(runsToDelete[0]!);
    expect(storage.items.size).toBe(0);
    expect(await listRuns()).toEqual([]);
  });
});
