import { engine } from '../engine';
import { checkFit } from '../gpu-fit';
import { runMetrics } from '../metrics';
import { toTrainSettings, validateSettings, type SettingsForm } from '../settings';
import { toErrorInfo, type ErrorInfo, type StepMetrics, type TrainResult, type TrainSettings } from '../../worker/protocol';
import { interruptedRun, listRuns, loadRunDataset, type RunRecord } from '../../worker/run-store';
import type { Slice } from './types';

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
  };
  pastRuns: RunRecord[];
  startTraining(resumeRunId?: string): Promise<void>;
  pauseTraining(): Promise<void>;
  resumeTraining(): Promise<void>;
  stopTraining(): Promise<void>;
  refreshRuns(): Promise<void>;
  /** After a reload or a crash: loads the interrupted run's model, data and settings, and continues it. */
  resumeInterrupted(): Promise<void>;
}

export function isActive(status: TrainStatus): boolean {
  return status === 'starting' || status === 'running' || status === 'paused' || status === 'stopping';
}

let listening = false;
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
          runMetrics.pushVal(ev.step, ev.valLoss);
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
          break;
        default:
          break;
      }
    });
  };

  return {
    training: { status: 'idle', latest: null, valLoss: null, result: null, error: null, settings: null, checkpointStep: null, resuming: null, notice: null },
    pastRuns: [],

    async startTraining(resumeRunId) {
      const s = get();
      if (isActive(s.training.status)) return;
      const examples = s.dataset.summary?.examples ?? null;
      const errors = validateSettings(s.settings, { model: s.model.summary, examples });
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
      set({ training: { status: 'starting', latest: null, valLoss: null, result: null, error: null, settings, checkpointStep: null, resuming: null, notice: null } });
      const run = {
        id: resumeRunId ?? crypto.randomUUID(),
        resume: resumeRunId !== undefined,
        model: { source: s.model.source, label: s.model.sourceLabel ?? s.model.summary?.name ?? 'model' },
        form: s.settings,
      };
      try {
        const result = await engine().call('train', { settings, run });
        patch({ status: result.end, result });
      } catch (e) {
        patch({ status: 'error', error: toErrorInfo(e) });
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
        set({ pastRuns: await listRuns() });
      } catch {
        /* IndexedDB unavailable (private mode): no history */
      }
    },

    async resumeInterrupted() {
      if (resumeChecked) return;
      resumeChecked = true;
      let run: RunRecord | null = null;
      try {
        run = await interruptedRun();
      } catch {
        return;
      }
      if (!run || isActive(get().training.status)) return;
      patch({ resuming: `Resuming the interrupted run from its checkpoint at step ${run.checkpointStep}…` });
      const interrupted = run;
      const fail = (message: string): void => {
        const error = { name: 'ResumeError', message };
        patch({ resuming: null, status: 'error', error });
        // Not again on every reload: the run is kept (and listed) as failed.
        void engine()
          .call('failRun', { id: interrupted.id, error })
          .catch(() => undefined)
          .then(() => get().refreshRuns());
      };
      if (!(await get().loadModel(run.model.source, run.model.label))) return fail(`The run's model (${run.model.name}) could not be loaded.`);
      const bytes = await loadRunDataset(run.id);
      if (!bytes) return fail(`The run's dataset (${run.dataset.fileName}) is no longer stored.`);
      await get().restoreDataset(run.dataset.fileName, bytes, run.dataset.skipInvalid);
      if (get().dataset.status !== 'ready') return fail(`The run's dataset (${run.dataset.fileName}) could not be prepared.`);
      get().replaceSettings(run.form as SettingsForm);
      patch({ resuming: null });
      await get().startTraining(run.id);
    },
  };
};
