import { PROJECTIONS } from '../../engine/model/spec';
import { engine } from '../engine';
import { defaultSettings, type NumberField, type SettingsForm } from '../settings';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';
import type { Slice, Status } from './types';
import { readAdapterZip } from '../../engine/lora/adapter-zip';

const CONFIG_FILE = 'adapter_config.json';
const WEIGHTS_FILE = 'adapter_model.safetensors';

/** An adapter's two files, from a .zip (ours, or any with them at one level) or picked loose. */
interface AdapterFiles {
  name: string;
  config: string;
  weights: ArrayBuffer;
}

/** The adapter in a .zip (stored or deflated): only its two files are inflated, within caps. */
async function filesFromZip(zip: File): Promise<AdapterFiles | string> {
  const bytes = new Uint8Array(await zip.arrayBuffer());
  let found: ReturnType<typeof readAdapterZip>;
  try {
    found = readAdapterZip(bytes, zip.name);
  } catch (e) {
    return (e as Error).message;
  }
  const w = found.weights;
  return { name: found.name, config: found.config, weights: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer };
}

/** The picked files: one .zip, or adapter_config.json and adapter_model.safetensors (loose or a folder). */
async function adapterFiles(files: File[]): Promise<AdapterFiles | string> {
  const zip = files.find((f) => /\.zip$/i.test(f.name));
  if (zip) return filesFromZip(zip);
  const config = files.find((f) => f.name === CONFIG_FILE);
  const weights = files.find((f) => f.name === WEIGHTS_FILE);
  if (!config || !weights) {
    const missing = [config ? null : CONFIG_FILE, weights ? null : WEIGHTS_FILE].filter(Boolean).join(' and ');
    return `Choose both files of a PEFT adapter (or its .zip): ${missing} ${missing.includes(' and ') ? 'are' : 'is'} missing (got ${files.map((f) => f.name).join(', ') || 'nothing'}).`;
  }
  // A folder pick names the folder; two loose files have no folder name to show.
  const rel = (config as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
  return { name: rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : 'adapter', config: await config.text(), weights: await weights.arrayBuffer() };
}

export interface SettingsSlice {
  settings: SettingsForm;
  /** Number fields the user has edited: presets (the demo's) leave them alone. */
  touched: NumberField[];
  /** Validation errors are shown after the first attempt to start (and then live). */
  showSettingsErrors: boolean;
  setNumber(field: NumberField, value: string): void;
  updateSettings(patch: Partial<Omit<SettingsForm, 'numbers'>>): void;
  /** Applies a preset, keeping the number fields the user has already edited. */
  applyPreset(form: SettingsForm): void;
  /** Replaces every setting (a resumed run's). */
  replaceSettings(form: SettingsForm): void;
  resetSettings(): void;
  /** Reading the adapter to start from (the adapter itself, once read, is settings.startAdapter). */
  startAdapterLoad: { status: Status; error: ErrorInfo | null };
  /** Reads a PEFT adapter (its adapter_config.json and adapter_model.safetensors) to start the next run from. */
  loadStartAdapter(files: File[]): Promise<void>;
  /** The next run starts from a fresh adapter again. */
  clearStartAdapter(): void;
}

export const createSettingsSlice: Slice<SettingsSlice> = (set, get) => ({
  settings: defaultSettings(),
  touched: [],
  showSettingsErrors: false,
  setNumber(field, value) {
    set((s) => ({
      settings: { ...s.settings, numbers: { ...s.settings.numbers, [field]: value } },
      touched: s.touched.includes(field) ? s.touched : [...s.touched, field],
    }));
  },
  updateSettings(patch) {
    set((s) => ({ settings: { ...s.settings, ...patch } }));
  },
  applyPreset(form) {
    set((s) => {
      const numbers = { ...form.numbers };
      for (const f of s.touched) numbers[f] = s.settings.numbers[f];
      return { settings: { ...form, numbers } };
    });
  },
  replaceSettings(form) {
    set({ settings: { ...defaultSettings(), ...form, numbers: { ...defaultSettings().numbers, ...form.numbers } } });
  },
  resetSettings() {
    set({ settings: defaultSettings(), touched: [], showSettingsErrors: false, startAdapterLoad: { status: 'idle', error: null } });
  },
  startAdapterLoad: { status: 'idle', error: null },
  async loadStartAdapter(files) {
    const fail = (message: string): void => set({ startAdapterLoad: { status: 'error', error: { name: 'AdapterError', message } } });
    if (get().model.status !== 'ready') return fail('Load a model first: an adapter is checked against its shapes.');
    set((s) => ({ startAdapterLoad: { status: 'loading', error: null }, settings: { ...s.settings, startAdapter: null } }));
    try {
      const picked = await adapterFiles(files);
      if (typeof picked === 'string') return fail(picked);
      const { name, config, weights } = picked;
      const info = await engine().call('loadStartAdapter', { name, config, safetensors: weights }, { transfer: [weights] });
      const { lora } = info;
      set((s) => ({
        startAdapterLoad: { status: 'ready', error: null },
        // The LoRA fields show the adapter's values (they are disabled while it is chosen).
        settings: {
          ...s.settings,
          startAdapter: info,
          numbers: { ...s.settings.numbers, loraRank: String(lora.r), loraAlpha: String(lora.alpha), loraDropout: String(lora.dropout) },
          rslora: lora.useRslora,
          targetPreset: 'custom',
          customTargets: PROJECTIONS.filter((p) => lora.targetModules.includes(p)),
        },
      }));
    } catch (e) {
      set({ startAdapterLoad: { status: 'error', error: toErrorInfo(e) } });
    }
  },
  clearStartAdapter() {
    set((s) => ({ startAdapterLoad: { status: 'idle', error: null }, settings: { ...s.settings, startAdapter: null } }));
  },
});
