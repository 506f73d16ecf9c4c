import { engine } from '../engine';
import { appUrl } from '../hub-choice';
import { datasetFiles, isParquetName } from './dataset-files';
import { toErrorInfo, type DatasetSummary, type ErrorInfo, type Progress } from '../../worker/protocol';
import type { DatasetDetails } from '../../worker/dataset';
import { DEFAULT_READ_OPTIONS, unpackDataset, type DatasetReadOptions } from '../../util/dataset-package';
import type { Slice, Status } from './types';
import type { HubDatasetSource } from '../../hub/datasets';
import { maxValidationExamples } from '../../settings/run-settings';

export type { DatasetReadOptions } from '../../util/dataset-package';

export interface DatasetSlice {
  dataset: {
    status: Status | 'waiting';
    fileName: string | null;
    /** The user chose to skip bad lines (else a bad line refuses the file). */
    skipInvalid: boolean;
    summary: DatasetSummary | null;
    /** Per-example lengths, preview lines, validation file counts (from the worker; null before). */
    details: DatasetDetails | null;
    progress: Progress | null;
    /** A refused file's error carries `lines`: every bad line with its reason. */
    error: ErrorInfo | null;
    /** How the file is read: format, column mapping, text mode, train on, validation split. */
    options: DatasetReadOptions;
    /** The chosen validation file (used when options.validation.mode is 'file'). */
    validationFileName: string | null;
    /** The Hub dataset split the data came from (the model card names it), or null for a file. */
    hub: HubDatasetSource | null;
  };
  loadDatasetFile(file: File): Promise<void>;
  /**
   * Uses a Hub split's files (hub-dataset.ts) as the dataset, read with `options`. Text files of one
   * split are joined into one; Parquet files (a split's shards) go to the worker as Blobs in order,
   * read there as one source (records name their file, each by `files[i].name`).
   */
  takeDatasetFiles(name: string, files: { name: string; data: Uint8Array }[], options: Partial<DatasetReadOptions>, hub: HubDatasetSource): Promise<void>;
  loadSampleDataset(): Promise<void>;
  /** Uses a dataset kept elsewhere (an interrupted run's: a plain file or a dataset package). */
  restoreDataset(fileName: string, kept: Blob, skipInvalid: boolean): Promise<void>;
  /** Uses the refused file without its bad lines. */
  skipBadLines(): Promise<void>;
  /** Tokenizes the chosen file again (after a model change). */
  retokenizeDataset(): Promise<void>;
  /** Changes how the file is read; tokenizes it again when that changes the examples. */
  setDatasetOptions(patch: Partial<DatasetReadOptions>): Promise<void>;
  /** Chooses (or with null, forgets) a second file as the validation set. */
  loadValidationFile(file: File | null): Promise<void>;
}

/** Counts tokenizations: a reply to an older one (options changed meanwhile) is dropped. */
let generation = 0;
let inFlight: Promise<void> = Promise.resolve();

type DatasetState = DatasetSlice['dataset'];

const fresh = (prev: DatasetState, fileName: string): DatasetState => ({
  ...prev,
  status: 'waiting',
  fileName,
  hub: null,
  skipInvalid: false,
  summary: null,
  details: null,
  progress: null,
  error: null,
});

/** Examples a validation fraction holds out: as src/data splitValidation, at most a fifth (what training allows). */
export function validationCount(fraction: number, examples: number): number {
  if (!(fraction > 0) || examples < 2) return 0;
  return Math.min(Math.max(1, Math.round(fraction * examples)), maxValidationExamples(examples));
}

const readChanged = (a: DatasetReadOptions, b: DatasetReadOptions): boolean =>
  a.format !== b.format || a.mapping.trim() !== b.mapping.trim() || a.txtMode !== b.txtMode || a.trainOn !== b.trainOn || a.maxRecords !== b.maxRecords;

/** Text files of one split, one after the other (a newline between, where a file lacks its last). */
function joinText(files: Uint8Array[]): ArrayBuffer {
  const parts = files.flatMap((f, i) => (i < files.length - 1 && f.byteLength && f[f.byteLength - 1] !== 0x0a ? [f, new Uint8Array([0x0a])] : [f]));
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, p) => (joined.set(p, at), at + p.byteLength), 0);
  return joined.buffer;
}

export const createDatasetSlice: Slice<DatasetSlice> = (set, get) => {
  /**
   * Settings' "Validation examples" follows the dataset panel's validation fraction. Choosing none
   * or a file (after a fraction, or a file at all) sets it to 0: nothing is held out of the data.
   */
  const syncValidation = (previousMode?: DatasetReadOptions['validation']['mode']): void => {
    const { options, summary } = get().dataset;
    const v = options.validation;
    if (v.mode === 'fraction') {
      if (summary) get().setNumber('validationExamples', String(validationCount(v.fraction, summary.examples)));
    } else if (previousMode !== undefined && previousMode !== v.mode && (previousMode === 'fraction' || v.mode === 'file')) {
      get().setNumber('validationExamples', '0');
    }
  };

  return {
    dataset: {
      status: 'idle',
      fileName: null,
      skipInvalid: false,
      summary: null,
      details: null,
      progress: null,
      error: null,
      options: DEFAULT_READ_OPTIONS,
      validationFileName: null,
      hub: null,
    },

    async loadDatasetFile(file) {
      // Parquet stays a File (read by byte ranges in the worker); text files are read here.
      datasetFiles.train = isParquetName(file.name) ? [{ name: file.name, blob: file }] : await file.arrayBuffer();
      set((s) => ({ dataset: fresh(s.dataset, file.name) }));
      await get().retokenizeDataset();
    },

    async takeDatasetFiles(name, files, options, hub) {
      // Parquet files as Blobs, as a chosen .parquet File: the worker reads them by byte ranges as one
      // source. Text files are joined into one.
      datasetFiles.train = isParquetName(name) ? files.map((f) => ({ name: f.name, blob: new Blob([f.data as Uint8Array<ArrayBuffer>]) })) : joinText(files.map((f) => f.data));
      datasetFiles.validation = null;
      set((s) => ({
        dataset: { ...fresh(s.dataset, name), hub, validationFileName: null, options: { ...s.dataset.options, ...options, validation: { ...s.dataset.options.validation, mode: s.dataset.options.validation.mode === 'file' ? 'none' : s.dataset.options.validation.mode } } },
      }));
      await get().retokenizeDataset();
    },

    async loadSampleDataset() {
      const url = appUrl('demo/sample.jsonl');
      try {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
        datasetFiles.train = await res.arrayBuffer();
        set((s) => ({ dataset: fresh(s.dataset, 'sample.jsonl') }));
      } catch (e) {
        set((s) => ({ dataset: { ...fresh(s.dataset, 'sample.jsonl'), status: 'error', error: toErrorInfo(e) } }));
        return;
      }
      await get().retokenizeDataset();
    },

    async restoreDataset(fileName, kept, skipInvalid) {
      const pkg = await unpackDataset(kept);
      if (pkg) {
        // Parquet files (a Hub split's shards) stay Blobs, slices of the kept one, read by byte
        // ranges in the worker; a text file is read here. Several files go under the run's name.
        const several = pkg.train.length > 1;
        datasetFiles.train = pkg.train.every((f) => isParquetName(f.name)) ? pkg.train : await pkg.train[0].blob.arrayBuffer();
        datasetFiles.validation = pkg.validation ? await pkg.validation.blob.arrayBuffer() : null;
        set((s) => ({
          dataset: { ...fresh(s.dataset, several ? fileName : pkg.train[0].name), hub: pkg.hub, skipInvalid, options: pkg.options, validationFileName: pkg.validation?.name ?? null },
        }));
      } else {
        datasetFiles.train = isParquetName(fileName) ? [{ name: fileName, blob: kept }] : await kept.arrayBuffer();
        datasetFiles.validation = null;
        set((s) => ({ dataset: { ...fresh(s.dataset, fileName), skipInvalid, options: DEFAULT_READ_OPTIONS, validationFileName: null } }));
      }
      await get().retokenizeDataset();
    },

    async skipBadLines() {
      set((s) => ({ dataset: { ...s.dataset, skipInvalid: true } }));
      await get().retokenizeDataset();
    },

    async setDatasetOptions(patch) {
      const before = get().dataset.options;
      const options: DatasetReadOptions = { ...before, ...patch, validation: { ...before.validation, ...patch.validation } };
      set((s) => ({ dataset: { ...s.dataset, options } }));
      const fileChanged = (before.validation.mode === 'file') !== (options.validation.mode === 'file') && datasetFiles.validation !== null;
      if (readChanged(before, options) || fileChanged) await get().retokenizeDataset();
      syncValidation(before.validation.mode);
    },

    async loadValidationFile(file) {
      const previousMode = get().dataset.options.validation.mode;
      datasetFiles.validation = file ? await file.arrayBuffer() : null;
      set((s) => ({
        dataset: {
          ...s.dataset,
          validationFileName: file?.name ?? null,
          options: file ? { ...s.dataset.options, validation: { ...s.dataset.options.validation, mode: 'file' } } : s.dataset.options,
        },
      }));
      await get().retokenizeDataset();
      syncValidation(previousMode);
    },

    async retokenizeDataset() {
      if (!datasetFiles.train || !get().dataset.fileName || get().model.status !== 'ready') return;
      // One tokenization at a time, the newest last: the worker keeps the dataset it prepared last,
      // so it must be the one the page shows. Requests overtaken while waiting are dropped.
      const mine = ++generation;
      const previous = inFlight;
      let release = (): void => undefined;
      inFlight = new Promise<void>((r) => (release = r));
      set((s) => ({ dataset: { ...s.dataset, status: 'loading', summary: null, details: null, error: null } }));
      get().resetExport();
      try {
        await previous;
        const { fileName, skipInvalid, options, validationFileName, hub } = get().dataset;
        if (mine !== generation || !datasetFiles.train || !fileName) return;
        // Copies: the worker takes the bytes it is sent (transferred); the page keeps its own.
        const validation = options.validation.mode === 'file' && datasetFiles.validation && validationFileName ? { name: validationFileName, bytes: datasetFiles.validation.slice(0) } : null;
        const train = datasetFiles.train;
        const files = Array.isArray(train) ? train : undefined;
        const bytes = Array.isArray(train) ? new ArrayBuffer(0) : train.slice(0);
        const summary = await engine().call(
          'loadDataset',
          { fileName, bytes, files, skipInvalid, options, validation, hub },
          {
            transfer: validation ? [bytes, validation.bytes] : [bytes],
            onProgress: (progress) => mine === generation && set((s) => ({ dataset: { ...s.dataset, progress } })),
          },
        );
        if (mine !== generation) return;
        const details = summary.details;
        set((s) => ({ dataset: { ...s.dataset, status: 'ready', summary, details, progress: null } }));
        syncValidation();
      } catch (e) {
        if (mine !== generation) return;
        set((s) => ({ dataset: { ...s.dataset, status: 'error', progress: null, error: toErrorInfo(e) } }));
      } finally {
        release();
      }
    },
  };
};
