import { defaultSettings, type NumberField, type SettingsForm } from '../settings';
import type { Slice } from './types';

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
}

export const createSettingsSlice: Slice<SettingsSlice> = (set) => ({
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
    set({ settings: defaultSettings(), touched: [], showSettingsErrors: false });
  },
});
