import { engine } from '../engine';
import { toErrorInfo, type AdapterFiles, type ErrorInfo, type OnnxCheckResult } from '../../worker/protocol';
import { storedZipFiles } from '../../io/untrusted/zip';
import { RECIPE_ZIP_NAME } from '../../export/recipe/names';
import { adapterZip, cardInput, saveFile, ZIP_NAME } from './export-files';
import { idlePush } from './push-extras';
import type { Slice } from './types';

export interface ExportSlice {
  exportState: { busy: boolean; error: ErrorInfo | null };
  /** The trained adapter's two files (exported once per run, then reused), or null with exportState.error set. */
  adapterFiles(): Promise<AdapterFiles | null>;
  downloadAdapter(): Promise<void>;
  downloadConfig(): Promise<void>;
  /** adapter_model.safetensors, adapter_config.json and a README.md model card in one .zip. */
  downloadZip(): Promise<void>;
  /** "Continue on a cluster": the run's job for Accelerate + transformers/PEFT and axolotl, as a .zip. */
  downloadRecipe(): Promise<void>;
  /** Forgets exported files (a new run or model makes them stale). */
  resetExport(): void;
  /** "For the web (ONNX)": the Transformers.js folder as a .zip (src/export/onnx), also pushed by "Push to the Hub", and its check. */
  onnxExport: {
    busy: boolean;
    error: ErrorInfo | null;
    /** The last export (the worker keeps it for the check and for "Try it"). */
    done: { files: string[]; bytes: number; quant: string } | null;
    checking: boolean;
    check: OnnxCheckResult | null;
  };
  downloadOnnx(): Promise<void>;
  checkOnnx(): Promise<void>;
}

/** The web export's file name. */
export const ONNX_ZIP_NAME = 'lora-model-onnx.zip';
/** "Check the export": new tokens compared. */
export const CHECK_TOKENS = 16;

/** The last export, reused by every button until the next run. Not state: bytes, no renders. */
let exported: Promise<AdapterFiles> | null = null;

export const createExportSlice: Slice<ExportSlice> = (set, get) => {
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
    adapterFiles: files,
    async downloadAdapter() {
      const f = await files();
      if (f) saveFile('adapter_model.safetensors', f.safetensors, 'application/octet-stream');
    },
    async downloadConfig() {
      const f = await files();
      if (f) saveFile('adapter_config.json', f.config, 'application/json');
    },
    async downloadZip() {
      const f = await files();
      if (!f) return;
      try {
        const date = new Date();
        const input = cardInput(get(), date);
        if (!input) throw new Error('no finished run to describe: train an adapter first');
        saveFile(ZIP_NAME, adapterZip(f, input), 'application/zip');
      } catch (e) {
        set({ exportState: { busy: false, error: toErrorInfo(e) } });
      }
    },
    async downloadRecipe() {
      set({ exportState: { busy: true, error: null } });
      try {
        const { zip } = await engine().call('exportRecipe', { hubDataset: get().dataset.hub });
        saveFile(RECIPE_ZIP_NAME, zip, 'application/zip');
        set({ exportState: { busy: false, error: null } });
      } catch (e) {
        set({ exportState: { busy: false, error: toErrorInfo(e) } });
      }
    },
    resetExport() {
      exported = null;
      // A new run or model: the last push's report no longer describes what Push would send.
      if (get().hubPush.status !== 'pushing') set({ hubPush: idlePush() });
      set({ exportState: { busy: false, error: null }, onnxExport: { busy: false, error: null, done: null, checking: false, check: null } });
    },
    onnxExport: { busy: false, error: null, done: null, checking: false, check: null },
    async downloadOnnx() {
      set((s) => ({ onnxExport: { ...s.onnxExport, busy: true, error: null, check: null } }));
      try {
        // ?ort=wasm runs the export on onnxruntime-web's wasm backend (no WebGPU).
        const backend = new URLSearchParams(location.search).get('ort') === 'wasm' ? 'wasm' : 'auto';
        const r = await engine().call('exportOnnx', { backend });
        // The worker's Blob: the page never holds the export's bytes itself.
        const zip = r.zip;
        saveFile(ONNX_ZIP_NAME, zip, 'application/zip');
        set((s) => ({ onnxExport: { ...s.onnxExport, done: { files: r.files, bytes: r.bytes, quant: r.quant } } }));
        // "Push to the Hub" sends the folder too: its files are slices of the stored .zip, not copies.
        get().addToPush({ kind: 'onnx', dtype: r.dtype }, await storedZipFiles(zip, ONNX_ZIP_NAME));
        set((s) => ({ onnxExport: { ...s.onnxExport, busy: false } }));
      } catch (e) {
        set((s) => ({ onnxExport: { ...s.onnxExport, busy: false, error: toErrorInfo(e) } }));
      }
    },
    async checkOnnx() {
      set((s) => ({ onnxExport: { ...s.onnxExport, checking: true, error: null, check: null } }));
      try {
        const check = await engine().call('checkOnnx', { prompt: get().tryIt.form.prompt, maxNewTokens: CHECK_TOKENS });
        set((s) => ({ onnxExport: { ...s.onnxExport, checking: false, check } }));
      } catch (e) {
        set((s) => ({ onnxExport: { ...s.onnxExport, checking: false, error: toErrorInfo(e) } }));
      }
    },
  };
};
