import { engine } from '../engine';
import { checkFit } from '../gpu-fit';
import { runMetrics } from '../metrics';
import { preferenceDataOf, toTrainSettings, validateSettings, type SettingsForm } from '../settings';
import { toErrorInfo, type ErrorInfo, type StepMetrics, type TrainResult, type TrainSettings, type WorkerEvent } from '../../worker/protocol';
import { interruptedRun, listRuns, loadRunDataset, type RunRecord } from '../../worker/run-store';
import { clearPauseNote, notePausedRun, withPauseNotes } from '../run-pause-notes';
import type { Slice } from './types';
import { adapterZip, saveFile, ZIP_NAME } from './export-files';
import { RECIPE_ZIP_NAME } from '../../export/recipe/names';

export type PastRunExport = 'adapter' | 'cluster';

export type TrainStatus = 'idle' | 'starting' | 'running' | 'paused' | 'stopping' | 'finished' | 'stopped' | 'error';

export interface TrainingSlice {
  training: {
    status: TrainStatus;
    latest: StepMetrics | null;
    valLoss: number | null;
    result: TrainResult | null;
    error: ErrorInfo | null;
    /** The settings of the current or last run (what an export describes). */
    settings: TrainSettings | null;
    /** The last checkpoint saved to this browser. */
    checkpointStep: number | null;
    /** Set while an interrupted run is being restored. */
    resuming: string | null;
    /** A warning from the worker about the current run (e.g. a checkpoint of an older version). */
    notice: string | null;
    /** The run ended paused at its checkpoint (GPU lost, or storage full): Past runs resumes or exports it. */
    endedPaused: boolean;
  };
  pastRuns: RunRecord[];
  startTraining(resumeRunId?: string): Promise<void>;
  pauseTraining(): Promise<void>;
  resumeTraining(): Promise<void>;
  stopTraining(): Promise<void>;
  refreshRuns(): Promise<void>;
  /** After a reload or a crash: loads the interrupted run's model, data and settings, and continues it. */
  resumeInterrupted(): Promise<void>;
  /** Past runs: continues a stored run from its last checkpoint (its model, data and settings loaded again). */
  resumePastRun(id: string): Promise<void>;
  /** Past runs: forgets a stored run (record, dataset copy, checkpoint). */
  deletePastRun(id: string): Promise<void>;
  /**
   * Past runs: downloads a stored run's last checkpoint as the adapter .zip Export makes ('adapter'),
   * or as Export's "Continue on a cluster" .zip continuing it from there ('cluster': its dataset is
   * loaded again too). Its model is loaded first; no GPU needed.
   */
  exportPastRun(id: string, as?: PastRunExport): Promise<void>;
  /** The past run being exported (and as what), and what went wrong with a past run's action. */
  pastRunAction: { exporting: string | null; as?: PastRunExport; error: ErrorInfo | null };
}

/**
 * Whether a stored run can continue: it has a checkpoint and did not finish, or it was paused
 * before its first checkpoint (it starts over, as an interrupted run does).
 */
export function canResume(r: RunRecord): boolean {
  return r.status !== 'finished' && (r.checkpointStep > 0 || r.status === 'paused');
}

/** A stored run's state as Past runs names it; a paused run says why (its error). */
export function runStateLabel(r: RunRecord): string {
  if (r.status === 'paused') return r.error?.name === 'RunStoreQuotaError' ? 'paused (storage full)' : 'paused (GPU lost)';
  return r.status === 'running' ? 'interrupted' : r.status;
}

/**
 * Test hook: `?test-lose-device-at=N` destroys the run's GPU device after step N, and with
 * `&test-no-device` no new device comes back (e2e/device-loss.spec.ts).
 */
function testDeviceLoss(): { atStep: number; noDevice: boolean } | null {
  const q = new URLSearchParams(location.search);
  const v = q.get('test-lose-device-at');
  return v !== null && /^\d+$/.test(v) ? { atStep: Number(v), noDevice: q.has('test-no-device') } : null;
}

/** A run that is neither finished nor failed: its GPU device was lost and it waits at its checkpoint. */
export const RUN_PAUSED = 'RunPausedError';

/** The heading of the training panel's error: a run paused at its checkpoint is not stopped. */
export function trainingErrorTitle(t: TrainingSlice['training']): string {
  return t.endedPaused ? 'Training paused' : 'Training stopped';
}

export function isActive(status: TrainStatus): boolean {
  return status === 'starting' || status === 'running' || status === 'paused' || status === 'stopping';
}

let listening = false;
/** The run the page started or resumed last, and the worker's report that a refused write paused it. */
let currentRunId: string | null = null;
let quotaPause: Extract<WorkerEvent, { type: 'quotaPause' }> | null = null;
const quotaPauseOf = (runId: string) => (quotaPause?.runId === runId ? quotaPause : null);
/** resumeInterrupted runs once per page (StrictMode mounts effects twice in development). */
let resumeChecked = false;

export const createTrainingSlice: Slice<TrainingSlice> = (set, get) => {
  const patch = (p: Partial<TrainingSlice['training']>): void => set((s) => ({ training: { ...s.training, ...p } }));

  const listen = (): void => {
    if (listening) return;
    listening = true;
    engine().on((ev) => {
      switch (ev.type) {
        case 'step':
          runMetrics.push(ev.metrics);
          patch({ latest: ev.metrics });
          break;
        case 'eval':
          runMetrics.pushVal(ev.step, ev.valLoss, ev.metrics);
          patch({ valLoss: ev.valLoss });
          break;
        case 'history':
          runMetrics.restore(ev.history);
          break;
        case 'checkpoint':
          patch({ checkpointStep: ev.step });
          break;
        case 'log':
          if (ev.level === 'warn') patch({ notice: ev.message });
          break;
        case 'trainState':
          if (isActive(get().training.status)) patch({ status: ev.state });
          // The loop runs only once the run's record is written as running (trainRun): a pause
          // noted for it is over.
          if (ev.state === 'running' && currentRunId !== null) clearPauseNote(currentRunId);
          break;
        case 'quotaPause':
          quotaPause = ev;
          break;
        default:
          break;
      }
    });
  };

  return {
    training: { status: 'idle', latest: null, valLoss: null, result: null, error: null, settings: null, checkpointStep: null, resuming: null, notice: null, endedPaused: false },
    pastRuns: [],
    pastRunAction: { exporting: null, error: null },

    async startTraining(resumeRunId) {
      const s = get();
      if (isActive(s.training.status)) return;
      const examples = s.dataset.summary?.examples ?? null;
      const errors = validateSettings(s.settings, { model: s.model.summary, examples, preferenceData: preferenceDataOf(s.dataset.summary) });
      set({ showSettingsErrors: true });
      if (Object.keys(errors).length > 0) return;
      if (s.model.status !== 'ready' || s.dataset.status !== 'ready' || !s.model.source) {
        patch({ status: 'error', error: { name: 'NotReady', message: 'Load a model and a dataset first.' } });
        return;
      }
      listen();
      const settings = toTrainSettings(s.settings, examples, s.dataset.details?.lengths ?? null);
      // The settings panel's check, with the same numbers (engine/train/memory.ts).
      const fit = s.model.summary ? checkFit(s.model.summary, settings, s.gpu.info, s.dataset.summary?.longestExample ?? null) : null;
      if (fit && !fit.fits) {
        patch({ status: 'error', error: { name: 'GpuLimitError', message: fit.message ?? 'This run cannot fit this GPU.' } });
        return;
      }
      runMetrics.clear();
      s.resetExport();
      set({ training: { status: 'starting', latest: null, valLoss: null, result: null, error: null, settings, checkpointStep: null, resuming: null, notice: null, endedPaused: false } });
      const run = {
        id: resumeRunId ?? crypto.randomUUID(),
        resume: resumeRunId !== undefined,
        model: { source: s.model.source, label: s.model.sourceLabel ?? s.model.summary?.name ?? 'model' },
        form: s.settings,
      };
      currentRunId = run.id;
      quotaPause = null;
      try {
        const lose = testDeviceLoss();
        if (lose !== null) await engine().call('testLoseDevice', lose);
        const result = await engine().call('train', { settings, run });
        patch({ status: result.end, result });
      } catch (e) {
        let error = toErrorInfo(e);
        const byQuota = quotaPauseOf(run.id);
        if (byQuota && !byQuota.recorded) error = notePausedRun(run.id, byQuota.checkpointStep, error);
        patch({ status: 'error', error, endedPaused: error.name === RUN_PAUSED || byQuota !== null });
      }
      await get().refreshRuns();
    },

    async pauseTraining() {
      await engine().call('pause', {});
    },
    async resumeTraining() {
      await engine().call('resume', {});
    },
    async stopTraining() {
      if (get().training.status === 'paused' || get().training.status === 'running') patch({ status: 'stopping' });
      await engine().call('stop', {});
    },

    async refreshRuns() {
      try {
        set({ pastRuns: withPauseNotes(await listRuns()) });
      } catch {
        /* IndexedDB unavailable (private mode): no history */
      }
    },

    async resumeInterrupted() {
      if (resumeChecked) return;
      resumeChecked = true;
      let run: RunRecord | null = null;
      try {
        run = interruptedRun(withPauseNotes(await listRuns()));
      } catch {
        return;
      }
      if (!run || isActive(get().training.status)) return;
      await resumeStored(run, true);
    },

    async resumePastRun(id) {
      if (isActive(get().training.status)) return;
      const run = get().pastRuns.find((r) => r.id === id);
      if (run) await resumeStored(run, false);
    },

    async deletePastRun(id) {
      set({ pastRunAction: { exporting: null, error: null } });
      try {
        await engine().call('deleteRun', { id });
      } catch (e) {
        set({ pastRunAction: { exporting: null, error: toErrorInfo(e) } });
      }
      await get().refreshRuns();
    },

    async exportPastRun(id, as = 'adapter') {
      const run = get().pastRuns.find((r) => r.id === id);
      if (!run || isActive(get().training.status)) return;
      set({ pastRunAction: { exporting: id, as, error: null } });
      try {
        const s = get();
        // The checkpoint is written for its model's shapes: that model must be the loaded one.
        if (JSON.stringify(s.model.source) !== JSON.stringify(run.model.source) || s.model.status !== 'ready') {
          if (!(await get().loadModel(run.model.source, run.model.label))) throw new Error(`the run's model (${run.model.name}) could not be loaded`);
        }
        if (as === 'cluster') {
          // The recipe's data is the run's plan: its own dataset copy, prepared again.
          const kept = await loadRunDataset(run.id);
          if (!kept) throw new Error(`the run's dataset (${run.dataset.fileName}) is no longer stored`);
          await get().restoreDataset(run.dataset.fileName, kept, run.dataset.skipInvalid);
          if (get().dataset.status !== 'ready') throw new Error(`the run's dataset (${run.dataset.fileName}) could not be prepared`);
          // A Hub split is named by the recipe (id and commit), not copied into it.
          const { zip } = await engine().call('exportRecipe', { runId: id, hubDataset: get().dataset.hub });
          saveFile(RECIPE_ZIP_NAME, zip, 'application/zip');
          set({ pastRunAction: { exporting: null, error: null } });
          return;
        }
        const files = await engine().call('exportAdapter', { runId: id });
        const model = get().model.summary!;
        const date = new Date();
        saveFile(ZIP_NAME, adapterZip(files, { model, settings: run.settings, dataset: null, result: null, date }), 'application/zip');
        set({ pastRunAction: { exporting: null, error: null } });
      } catch (e) {
        set({ pastRunAction: { exporting: null, error: toErrorInfo(e) } });
      }
    },
  };

  /**
   * Loads a stored run's model, dataset copy and settings form, and continues it from its last
   * checkpoint. An interrupted run that cannot come back is marked failed, so it is not tried again
   * on every reload; a run picked from Past runs keeps its state.
   */
  async function resumeStored(run: RunRecord, interrupted: boolean): Promise<void> {
    patch({ resuming: `Resuming the ${interrupted ? 'interrupted ' : ''}run from its checkpoint at step ${run.checkpointStep}…` });
    const fail = (message: string): void => {
      const error = { name: 'ResumeError', message };
      patch({ resuming: null, status: 'error', error });
      if (!interrupted) return;
      void engine()
        .call('failRun', { id: run.id, error })
        .catch(() => undefined)
        .then(() => get().refreshRuns());
    };
    if (!(await get().loadModel(run.model.source, run.model.label))) return fail(`The run's model (${run.model.name}) could not be loaded.`);
    const kept = await loadRunDataset(run.id);
    if (!kept) return fail(`The run's dataset (${run.dataset.fileName}) is no longer stored.`);
    await get().restoreDataset(run.dataset.fileName, kept, run.dataset.skipInvalid);
    if (get().dataset.status !== 'ready') return fail(`The run's dataset (${run.dataset.fileName}) could not be prepared.`);
    get().replaceSettings(run.form as SettingsForm);
    patch({ resuming: null });
    await get().startTraining(run.id);
  }
};
