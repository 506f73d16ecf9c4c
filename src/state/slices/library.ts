// The model library (src/hub: IndexedDB store + import worker): what is stored, importing a Hub
// model or picked files into it (download, quantize, store, resumable), using and deleting models.
import { startImport, type ImportSourceRequest, type RunningImport } from '../../hub/import-client';
import type { ImportProgress } from '../../hub/import';
import { idbKeyValue, ModelStore, type ImportQuant, type StoredModelSummary } from '../../hub/store';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';
import type { Slice } from './types';

export interface LibrarySlice {
  library: {
    items: StoredModelSummary[];
    error: ErrorInfo | null;
    /** The import in flight, if any. */
    importing: { label: string; progress: ImportProgress | null } | null;
    /** How the next import stores the weights. */
    quant: ImportQuant;
  };
  setImportQuant(q: ImportQuant): void;
  refreshLibrary(): Promise<void>;
  /** Imports into the library, then loads the model. The token (gated models) is used once, never kept. */
  importAndUse(source: ImportSourceRequest, label: string): Promise<void>;
  useStored(item: StoredModelSummary): Promise<void>;
  resumeImport(item: StoredModelSummary, hubEndpoint: string): Promise<void>;
  cancelImport(): void;
  deleteStored(key: string): Promise<void>;
}

let store: ModelStore | null = null;
const library = (): ModelStore => (store ??= new ModelStore(idbKeyValue()));
let running: RunningImport | null = null;

export const QUANT_LABELS: Record<ImportQuant, string> = { none: 'f32/bf16 (as published)', int8: 'int8 (8-bit)', int4: 'int4 (4-bit)' };

export const createLibrarySlice: Slice<LibrarySlice> = (set, get) => {
  const patch = (p: Partial<LibrarySlice['library']>): void => set((s) => ({ library: { ...s.library, ...p } }));
  return {
    library: { items: [], error: null, importing: null, quant: 'none' },

    setImportQuant(quant) {
      patch({ quant });
    },

    async refreshLibrary() {
      try {
        patch({ items: await library().list(), error: null });
      } catch (e) {
        patch({ error: toErrorInfo(e) });
      }
    },

    async importAndUse(source, label) {
      if (running) return;
      set((s) => ({ model: { ...s.model, status: 'loading', error: null, progress: null, sourceLabel: label } }));
      patch({ importing: { label, progress: null } });
      running = startImport(source, get().library.quant, (progress) => patch({ importing: { label, progress } }));
      try {
        const manifest = await running.done;
        patch({ importing: null });
        await get().refreshLibrary();
        const item = get().library.items.find((i) => i.key === manifest.key);
        if (item) await get().useStored(item);
      } catch (e) {
        patch({ importing: null });
        set((s) => ({ model: { ...s.model, status: 'error', error: toErrorInfo(e) } }));
        await get().refreshLibrary();
      } finally {
        running = null;
      }
    },

    async useStored(item) {
      await get().loadModel({ kind: 'stored', key: item.key }, item.hubId ?? item.name);
    },

    async resumeImport(item, hubEndpoint) {
      if (item.source !== 'hub' || !item.hubId) return;
      const prev = get().library.quant;
      patch({ quant: item.quant });
      const done = get().importAndUse({ kind: 'hub', modelId: item.hubId, revision: item.revision ?? 'main', baseUrl: hubEndpoint }, item.hubId);
      patch({ quant: prev });
      await done;
    },

    cancelImport() {
      running?.cancel();
    },

    async deleteStored(key) {
      try {
        await library().delete(key);
      } catch (e) {
        patch({ error: toErrorInfo(e) });
      }
      await get().refreshLibrary();
    },
  };
};
