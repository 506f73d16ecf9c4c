import { appUrl, hubChoice, hubReadAccess } from '../hub-choice';
import { engine } from '../engine';
import { demoSettings } from '../settings';
import { toErrorInfo, type ErrorInfo, type ModelSource, type ModelSummary, type Progress } from '../../worker/protocol';
import type { Slice, Status } from './types';

export interface ModelSlice {
  model: {
    status: Status;
    summary: ModelSummary | null;
    progress: Progress | null;
    error: ErrorInfo | null;
    sourceLabel: string | null;
    /** Where the loaded model came from (a run record keeps it to resume). */
    source: ModelSource | null;
    /** The `?hub=` origin the user allowed to receive the access token (this page only, never stored). */
    tokenOrigin: string | null;
  };
  /**
   * The access token for reading from the Hub (gated or private models and datasets): one value for
   * the model and dataset panels, in this page's memory only, never stored.
   */
  hubToken: string;
  setHubToken(token: string): void;
  /** Allows (origin) or withdraws (null) sending the access token to the `?hub=` override. */
  confirmHubToken(origin: string | null): void;
  /** Loads a model into the engine worker (the demo, or one from the library). */
  loadModel(source: ModelSource, label: string): Promise<boolean>;
  /** "owner/name" or "owner/name@revision": imported into the library, then loaded. */
  loadHubModel(repo: string, token?: string): Promise<void>;
  loadLocalModel(files: File[]): Promise<void>;
  /** The demo: its model, its sample dataset and settings that make it learn in 20 steps. */
  useDemo(): Promise<void>;
}

/** Picked files keyed by their path inside the model folder (a folder pick drops its top folder). */
function localFiles(files: File[]): { name: string; files: Record<string, Blob> } {
  let name = 'local model';
  const out: Record<string, Blob> = {};
  for (const f of files) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const cut = rel.indexOf('/');
    if (cut > 0) name = rel.slice(0, cut);
    out[cut > 0 ? rel.slice(cut + 1) : rel] = f;
  }
  return { name, files: out };
}

export const createModelSlice: Slice<ModelSlice> = (set, get) => ({
  model: { status: 'idle', summary: null, progress: null, error: null, sourceLabel: null, source: null, tokenOrigin: null },

  hubToken: '',
  setHubToken(token) {
    set({ hubToken: token });
  },

  confirmHubToken(origin) {
    set((s) => ({ model: { ...s.model, tokenOrigin: origin } }));
  },

  async loadModel(source, label) {
    set((s) => ({ model: { status: 'loading', summary: null, progress: null, error: null, sourceLabel: label, source, tokenOrigin: s.model.tokenOrigin } }));
    get().resetExport();
    // An adapter was read for the previous model's shapes (the worker forgets it too).
    get().clearStartAdapter();
    try {
      const summary = await engine().call(
        'loadModel',
        { source },
        { onProgress: (progress) => set((s) => ({ model: { ...s.model, progress } })) },
      );
      set((s) => ({ model: { ...s.model, status: 'ready', summary, progress: null } }));
      await get().retokenizeDataset();
      return true;
    } catch (e) {
      set((s) => ({ model: { ...s.model, status: 'error', progress: null, error: toErrorInfo(e) } }));
      return false;
    }
  },

  async loadHubModel(repo, token) {
    const [id, revision = 'main'] = repo.trim().split('@');
    if (!/^[\w.-]+(\/[\w.-]+)?$/.test(id)) {
      set((s) => ({ model: { ...s.model, status: 'error', error: { name: 'InvalidModelId', message: `"${repo}" is not a Hugging Face model id (owner/name)` } } }));
      return;
    }
    // The token leaves the page only for the build's Hub or an override the user confirmed.
    const { hub } = hubChoice();
    const access = hubReadAccess(token ?? '', get().model.tokenOrigin);
    await get().importAndUse({ kind: 'hub', modelId: id, revision, baseUrl: access.hubUrl, token: access.token }, id);
    const error = get().model.error;
    if (token && !access.token && error?.name === 'HubAuthError') {
      const why = ` Your access token was not sent to ${hub.host}: tick "Send my token to ${hub.host}" to send it there.`;
      set((s) => ({ model: { ...s.model, error: { ...error, message: error.message + why } } }));
    }
  },

  async loadLocalModel(files) {
    const { name, files: byPath } = localFiles(files);
    await get().importAndUse({ kind: 'local', name, files: byPath }, name);
  },

  async useDemo() {
    get().applyPreset(demoSettings());
    const ok = await get().loadModel({ kind: 'demo', baseUrl: appUrl('demo/') }, 'demo');
    // A file the user already chose wins over the sample.
    if (ok && get().dataset.fileName === null) await get().loadSampleDataset();
  },
});
