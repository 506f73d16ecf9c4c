import { engine } from '../engine';
import { toErrorInfo, type AdapterFiles, type ErrorInfo } from '../../worker/protocol';
import type { Slice } from './types';

export interface ExportSlice {
  exportState: { busy: boolean; error: ErrorInfo | null };
  downloadAdapter(): Promise<void>;
  downloadConfig(): Promise<void>;
  /** Forgets exported files (a new run or model makes them stale). */
  resetExport(): void;
}

/** The last export, reused by both buttons until the next run. Not state: bytes, no renders. */
let exported: Promise<AdapterFiles> | null = null;

function saveFile(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export const createExportSlice: Slice<ExportSlice> = (set) => {
  const files = async (): Promise<AdapterFiles | null> => {
    set({ exportState: { busy: true, error: null } });
    try {
      exported ??= engine().call('exportAdapter', {});
      const f = await exported;
      set({ exportState: { busy: false, error: null } });
      return f;
    } catch (e) {
      exported = null;
      set({ exportState: { busy: false, error: toErrorInfo(e) } });
      return null;
    }
  };
  return {
    exportState: { busy: false, error: null },
    async downloadAdapter() {
      const f = await files();
      if (f) saveFile('adapter_model.safetensors', f.safetensors, 'application/octet-stream');
    },
    async downloadConfig() {
      const f = await files();
      if (f) saveFile('adapter_config.json', f.config, 'application/json');
    },
    resetExport() {
      exported = null;
      set({ exportState: { busy: false, error: null } });
    },
  };
};
