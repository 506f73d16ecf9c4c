// The studio's state: one zustand store made of feature slices. The UI reads it and calls its
// actions; only the slices talk to the engine worker (through src/state/engine.ts).
import { create } from 'zustand';
import { createDatasetSlice, type DatasetSlice } from './slices/dataset';
import { createExportSlice, type ExportSlice } from './slices/export';
import { createGpuSlice, type GpuSlice } from './slices/gpu';
import { createHubPushSlice, type HubPushSlice } from './slices/hub-push';
import { createLibrarySlice, type LibrarySlice } from './slices/library';
import { createModelSlice, type ModelSlice } from './slices/model';
import { createSettingsSlice, type SettingsSlice } from './slices/settings';
import { createTrainingSlice, type TrainingSlice } from './slices/training';
import { createTryItSlice, type TryItSlice } from './slices/tryit';
import { createHubDatasetSlice, type HubDatasetSlice } from './slices/hub-dataset';

export type StudioState = GpuSlice & LibrarySlice & ModelSlice & DatasetSlice & SettingsSlice & TrainingSlice & ExportSlice & TryItSlice & HubPushSlice & HubDatasetSlice;

export const useStudio = create<StudioState>()((...a) => ({
  ...createGpuSlice(...a),
  ...createLibrarySlice(...a),
  ...createModelSlice(...a),
  ...createDatasetSlice(...a),
  ...createSettingsSlice(...a),
  ...createTrainingSlice(...a),
  ...createExportSlice(...a),
  ...createTryItSlice(...a),
  ...createHubPushSlice(...a),
  ...createHubDatasetSlice(...a),
}));
