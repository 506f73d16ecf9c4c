import { PROJECTIONS } from '../../engine/model/spec';
import { engine } from '../engine';
import { defaultSettings, type NumberField, type SettingsForm } from '../settings';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';
import type { Slice, Status } from './types';

const CONFIG_FILE = 'adapter_config.json';
const WEIGHTS_FILE = 'adapter_model.safetensors';

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
    const config = files.find((f) => f.name === CONFIG_FILE);
    const weights = files.find((f) => f.name === WEIGHTS_FILE);
    if (!config || !weights) {
      const missing = [config ? null : CONFIG_FILE, weights ? null : WEIGHTS_FILE].filter(Boolean).join(' and ');
      return fail(`Choose both files of a PEFT adapter: ${missing} ${missing.includes(' and ') ? 'are' : 'is'} missing (got ${files.map((f) => f.name).join(', ') || 'nothing'}).`);
    }
    if (get().model.status !== 'ready') return fail('Load a model first: an adapter is checked against its shapes.');
    // A folder pick names the folder; two loose files are named after their parent only if the browser says.
    const rel = (config as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
    const name = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : 'adapter';
    set((s) => ({ startAdapterLoad: { status: 'loading', error: null }, settings: { ...s.settings, startAdapter: null } }));
    try {
      const bytes = await weights.arrayBuffer();
      const info = await engine().call('loadStartAdapter', { name, config: await config.text(), safetensors: bytes }, { transfer: [bytes] });
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
