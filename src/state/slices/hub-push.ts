// "Push to the Hub" (Export): the trained adapter, its config and the model card committed to a
// repository under the token's account (src/hub/push.ts). The token is an argument, never state.
// A failed or cancelled push keeps everything on the page; Retry runs the same push, and the Hub's
// LFS batch leaves out what it already holds.
import { HubPushError, pushToHub, type PushErrorKind, type PushFile, type PushProgress, type PushResult } from '../../hub/push';
import { trustedOrigins } from '../../hub/endpoint';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';
import { cardInput } from './export';
import { modelCard } from './export-card';
import { HUB_POLICY, hubChoice } from './model';
import type { Slice } from './types';

export interface PushRequest {
  /** "name" under the token's account, or "namespace/name". */
  repo: string;
  token: string;
  private: boolean;
}

/** An export built on the page since the run (a GGUF folder): pushed too, under its folder. */
export interface PushExtra {
  folder: string;
  files: number;
  bytes: number;
}

export interface HubPushSlice {
  hubPush: {
    /** Exports built since the run, pushed beside the adapter. */
    extras: PushExtra[];
    status: 'idle' | 'pushing' | 'done' | 'error';
    progress: PushProgress | null;
    error: (ErrorInfo & { kind: PushErrorKind | null }) | null;
    result: PushResult | null;
  };
  pushToHub(req: PushRequest): Promise<void>;
  cancelPush(): void;
  /** Adds a built export's files (replacing an earlier build of the same folder). */
  addToPush(folder: string, files: { name: string; blob: Blob }[]): void;
}

let running: AbortController | null = null;
/** The extras' bytes, by folder. Not state: blobs, no renders. */
const extraFiles = new Map<string, PushFile[]>();

/** What resetExport sets: a new run or model makes the last push's report and the built exports stale. */
export function idlePush(): HubPushSlice['hubPush'] {
  extraFiles.clear();
  return { extras: [], status: 'idle', progress: null, error: null, result: null };
}

export const createHubPushSlice: Slice<HubPushSlice> = (set, get) => {
  const patch = (p: Partial<HubPushSlice['hubPush']>): void => set((s) => ({ hubPush: { ...s.hubPush, ...p } }));
  return {
    hubPush: idlePush(),

    async pushToHub(req) {
      if (running) return;
      const abort = new AbortController();
      running = abort;
      patch({ status: 'pushing', error: null, result: null, progress: null });
      try {
        const adapter = await get().adapterFiles();
        const input = cardInput(get(), new Date());
        if (!adapter || !input) throw new Error('no trained adapter to push: train one first');
        const { hub } = hubChoice();
        const result = await pushToHub({
          hubUrl: hub.url,
          token: req.token,
          trusted: trustedOrigins(HUB_POLICY, get().model.tokenOrigin),
          repo: req.repo,
          private: req.private,
          files: [
            { path: 'adapter_model.safetensors', content: new Blob([adapter.safetensors]) },
            { path: 'adapter_config.json', content: new Blob([adapter.config]) },
            { path: 'README.md', content: new Blob([modelCard(input)]) },
            ...[...extraFiles.values()].flat(),
          ],
          commitTitle: 'Upload LoRA adapter from LoRA Studio',
          signal: abort.signal,
          onProgress: (progress) => patch({ progress }),
        });
        patch({ status: 'done', result });
      } catch (e) {
        patch({ status: 'error', error: { ...toErrorInfo(e), kind: e instanceof HubPushError ? e.kind : null } });
      } finally {
        running = null;
      }
    },

    cancelPush() {
      running?.abort();
    },

    addToPush(folder, files) {
      extraFiles.set(folder, files.map((f) => ({ path: `${folder}/${f.name}`, content: f.blob })));
      const extras = [...extraFiles].map(([f, list]) => ({ folder: f, files: list.length, bytes: list.reduce((n, x) => n + x.content.size, 0) }));
      patch({ extras });
    },
  };
};
