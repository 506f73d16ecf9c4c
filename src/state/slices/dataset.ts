import { engine } from '../engine';
import { appUrl } from './model';
import { toErrorInfo, type DatasetSummary, type ErrorInfo, type Progress } from '../../worker/protocol';
import type { Slice, Status } from './types';

export interface DatasetSlice {
  dataset: {
    status: Status | 'waiting';
    fileName: string | null;
    /** The user chose to skip bad lines (else a bad line refuses the file). */
    skipInvalid: boolean;
    summary: DatasetSummary | null;
    progress: Progress | null;
    /** A refused file's error carries `lines`: every bad line with its reason. */
    error: ErrorInfo | null;
  };
  loadDatasetFile(file: File): Promise<void>;
  loadSampleDataset(): Promise<void>;
  /** Uses bytes kept elsewhere (an interrupted run's dataset). */
  restoreDataset(fileName: string, bytes: ArrayBuffer, skipInvalid: boolean): Promise<void>;
  /** Uses the refused file without its bad lines. */
  skipBadLines(): Promise<void>;
  /** Tokenizes the chosen file again (after a model change). */
  retokenizeDataset(): Promise<void>;
}

/** The chosen file's bytes, kept so a model change can tokenize it again. Not state: no renders. */
let datasetBytes: ArrayBuffer | null = null;

const fresh = (fileName: string) => ({ status: 'waiting' as const, fileName, skipInvalid: false, summary: null, progress: null, error: null });

export const createDatasetSlice: Slice<DatasetSlice> = (set, get) => ({
  dataset: { status: 'idle', fileName: null, skipInvalid: false, summary: null, progress: null, error: null },

  async loadDatasetFile(file) {
    datasetBytes = await file.arrayBuffer();
    set({ dataset: fresh(file.name) });
    await get().retokenizeDataset();
  },

  async loadSampleDataset() {
    const url = appUrl('demo/sample.jsonl');
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
      datasetBytes = await res.arrayBuffer();
      set({ dataset: fresh('sample.jsonl') });
    } catch (e) {
      set({ dataset: { ...fresh('sample.jsonl'), status: 'error', error: toErrorInfo(e) } });
      return;
    }
    await get().retokenizeDataset();
  },

  async restoreDataset(fileName, bytes, skipInvalid) {
    datasetBytes = bytes;
    set({ dataset: { ...fresh(fileName), skipInvalid } });
    await get().retokenizeDataset();
  },

  async skipBadLines() {
    set((s) => ({ dataset: { ...s.dataset, skipInvalid: true } }));
    await get().retokenizeDataset();
  },

  async retokenizeDataset() {
    const { fileName, skipInvalid } = get().dataset;
    if (!datasetBytes || !fileName || get().model.status !== 'ready') return;
    set((s) => ({ dataset: { ...s.dataset, status: 'loading', summary: null, error: null } }));
    get().resetExport();
    try {
      const summary = await engine().call(
        'loadDataset',
        { fileName, bytes: datasetBytes.slice(0), skipInvalid },
        { onProgress: (progress) => set((s) => ({ dataset: { ...s.dataset, progress } })) },
      );
      set((s) => ({ dataset: { ...s.dataset, status: 'ready', summary, progress: null } }));
    } catch (e) {
      set((s) => ({ dataset: { ...s.dataset, status: 'error', progress: null, error: toErrorInfo(e) } }));
    }
  },
});
