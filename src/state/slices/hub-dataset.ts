// The dataset panel's Hugging Face dataset id: what the dataset holds (configs and splits), then the
// chosen split downloaded (kept in IndexedDB: src/hub/dataset-store.ts) with its row count, first
// rows and, when its columns name no known format, a proposed column mapping; then the split goes
// through the dataset slice's one flow (preview, counts, mapping) like a chosen file.
// The token follows the models' rule: sent only where mayReceiveToken allows; never stored.
import { chooseSplit, datasetClient, datasetInfo, type HubDataRef, type HubDatasetInfo, type ResolvedSplit } from '../../hub/datasets';
import { remoteSplitFile, statSplitFile } from '../../hub/dataset-download';
import { DATASET_DB, loadSplitFiles } from '../../hub/dataset-store';
import { idbKeyValue, type KeyValue } from '../../hub/store';
import { openRecordSource, type RecordFile } from '../../data/records/record-source';
import { proposeMapping, type ProposedMapping } from '../../data/propose-mapping';
import { hubReadAccess } from '../hub-choice';
import { toErrorInfo, type ErrorInfo, type Progress } from '../../worker/protocol';
import type { DatasetFormatChoice } from '../../util/dataset-package';
import type { Slice } from './types';

/** Rows shown of a chosen split. */
export const FIRST_ROWS = 5;

export interface HubSplitPreview {
  split: ResolvedSplit;
  /** All rows of the split (Parquet metadata; text: the records read), or null when unknown. */
  rows: number | null;
  columns: string[];
  firstRows: unknown[];
  proposal: ProposedMapping | null;
  /** The split came from this browser's store (nothing downloaded). */
  fromStore: boolean;
  offline: boolean;
  /** false: read by byte ranges from the Hub, before any download (Parquet splits). */
  downloaded: boolean;
}

export interface HubDatasetSlice {
  hubDataset: {
    status: 'idle' | 'loading' | 'ready' | 'error';
    id: string | null;
    info: HubDatasetInfo | null;
    progress: Progress | null;
    preview: HubSplitPreview | null;
    error: ErrorInfo | null;
  };
  /** Reads what a dataset holds (configs and splits). */
  openHubDataset(id: string, token: string): Promise<void>;
  /** A Parquet split's row count, columns and first rows, read by byte ranges before any download. */
  peekHubSplit(config: string, split: string, token: string): Promise<void>;
  /** Downloads (or reuses) a split and hands it to the dataset flow, reading at most maxRecords rows. */
  chooseHubSplit(config: string, split: string, maxRecords: number | undefined, token: string): Promise<void>;
}

/** Counts looks before download: an answer to an older one (the split changed meanwhile) is dropped. */
let peeks = 0;

/** Row count (all rows; text: counted), columns, first rows and the proposed mapping of a split's files. */
async function previewOf(files: RecordFile[], fileType: 'parquet' | undefined): Promise<Pick<HubSplitPreview, 'rows' | 'columns' | 'firstRows' | 'proposal'>> {
  const source = () => openRecordSource(files, { fileType });
  const firstRows: unknown[] = [];
  for await (const r of source().records({ maxRecords: FIRST_ROWS })) if ('value' in r) firstRows.push(r.value);
  let rows = (await source().totalRows()) ?? null;
  if (rows === null) {
    rows = 0;
    for await (const r of source().records()) if (r) rows++;
  }
  const columns = (await source().columns()).map((c) => c.name);
  return { rows, columns, firstRows, proposal: proposeMapping(firstRows[0]) };
}

let kvStore: KeyValue | null = null;
/** The store of dataset files (IndexedDB); replaceable in tests. */
export const datasetKv = (): KeyValue => (kvStore ??= idbKeyValue(DATASET_DB));

export const createHubDatasetSlice: Slice<HubDatasetSlice> = (set, get) => {
  const access = (token: string) => hubReadAccess(token, get().model.tokenOrigin);
  const patch = (p: Partial<HubDatasetSlice['hubDataset']>) => set((s) => ({ hubDataset: { ...s.hubDataset, ...p } }));

  return {
    hubDataset: { status: 'idle', id: null, info: null, progress: null, preview: null, error: null },

    async openHubDataset(id, token) {
      const ref = id.trim();
      patch({ status: 'loading', id: ref, info: null, preview: null, error: null, progress: null });
      try {
        const at = ref.indexOf('@');
        const info = await datasetInfo({ id: at >= 0 ? ref.slice(0, at) : ref, revision: at >= 0 ? ref.slice(at + 1) : null }, access(token));
        if (get().hubDataset.id === ref) patch({ status: 'ready', info });
      } catch (e) {
        if (get().hubDataset.id === ref) patch({ status: 'error', error: toErrorInfo(e) });
      }
    },

    async peekHubSplit(config, split, token) {
      const info = get().hubDataset.info;
      if (!info) return;
      const mine = ++peeks;
      try {
        const s = chooseSplit(info, config, split);
        if (!s.files.every((f) => /\.parquet$/i.test(f.path))) return;
        const a = access(token);
        const client = datasetClient(a);
        const files = [];
        for (const f of s.files) files.push({ name: f.path, data: remoteSplitFile(client, s, f, await statSplitFile(client, s, f)) });
        const preview = await previewOf(files, 'parquet');
        if (mine === peeks && get().hubDataset.info === info && get().hubDataset.status !== 'loading') {
          patch({ preview: { split: s, ...preview, fromStore: false, offline: false, downloaded: false } });
        }
      } catch (e) {
        // A look only: the download shows what went wrong, if it does.
        void e;
      }
    },

    async chooseHubSplit(config, split, maxRecords, token) {
      const info = get().hubDataset.info;
      if (!info) return;
      const ref: HubDataRef = { id: info.id, revision: info.revision, config, split };
      // A look still in flight would land after this split (kept or downloaded) and show it as not downloaded.
      peeks++;
      patch({ status: 'loading', preview: null, error: null, progress: null });
      try {
        const got = await loadSplitFiles(datasetKv(), ref, access(token), {
          onProgress: (p) => patch({ progress: { phase: 'download', label: p.file, done: p.done, total: p.total, unit: 'bytes' } }),
        });
        const ext = /\.([a-z0-9]+)$/i.exec(got.files[0].path)?.[1].toLowerCase() ?? 'jsonl';
        const name = `${got.split.id} ${got.split.config}-${got.split.split}.${ext}`;
        // Several files (a split's shards) keep their paths: a record's place names its shard.
        const files = got.files.map((f) => ({ name: got.files.length > 1 ? f.path : name, data: f.bytes }));
        const preview = await previewOf(files, ext === 'parquet' ? 'parquet' : undefined);
        const proposal = preview.proposal;
        patch({ status: 'ready', progress: null, preview: { split: got.split, ...preview, fromStore: got.fromStore, offline: got.offline, downloaded: true } });
        const options = proposal ? { format: proposal.format as DatasetFormatChoice, mapping: proposal.text } : { format: 'auto' as const, mapping: '' };
        await get().takeDatasetFiles(name, files, { ...options, maxRecords }, { id: got.split.id, config: got.split.config, split: got.split.split, revision: got.split.sha });
      } catch (e) {
        patch({ status: 'error', progress: null, error: toErrorInfo(e) });
      }
    },
  };
};
