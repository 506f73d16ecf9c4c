// "Push to the Hub" (Export): the trained adapter, its config and the model card committed to a
// repository under the token's account (src/hub/push.ts). The token is an argument, never state.
// A failed or cancelled push keeps everything on the page; Retry runs the same push, and the Hub's
// LFS batch leaves out what it already holds.
import { HubPushError, pushToHub, type PushErrorKind, type PushProgress, type PushResult } from '../../hub/push';
import { trustedOrigins } from '../../hub/endpoint';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';
import { cardInput } from './export-files';
import { extraFiles, idlePush } from './push-extras';
import { modelCard, type BuiltExport } from './export-card';
import { HUB_POLICY, hubChoice } from '../hub-choice';
import type { Slice } from './types';

export interface PushRequest {
  /** "name" under the token's account, or "namespace/name". */
  repo: string;
  token: string;
  private: boolean;
}

/** An export built on the page since the run (a GGUF or the web's ONNX folder): pushed too, under its folder. */
export interface PushExtra {
  folder: string;
  what: BuiltExport;
  files: number;
  bytes: number;
}

/** The export's folder in the repository: the web's is named by its Transformers.js dtype (onnx-fp32, onnx-q8, onnx-q4). */
export function extraFolder(x: BuiltExport): string {
  if (x.kind === 'onnx') return `onnx-${x.dtype}`;
  return x.merged ? 'gguf-merged' : 'gguf-adapter';
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
  /** Adds a built export's files, paths relative to its folder (replacing an earlier build of the same folder). */
  addToPush(what: BuiltExport, files: { name: string; blob: Blob }[]): void;
}

let running: AbortController | null = null;

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
          files: (repoId) => [
            { path: 'adapter_model.safetensors', content: new Blob([adapter.safetensors]) },
            { path: 'adapter_config.json', content: new Blob([adapter.config]) },
            { path: 'README.md', content: new Blob([modelCard({ ...input, repoId, extras: [...extraFiles].map(([folder, x]) => ({ folder, what: x.what })) })]) },
            ...[...extraFiles.values()].flatMap((x) => x.files),
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

    addToPush(what, files) {
      const folder = extraFolder(what);
      extraFiles.set(folder, { what, files: files.map((f) => ({ path: `${folder}/${f.name}`, content: f.blob })) });
      const extras = [...extraFiles].map(([f, x]) => ({ folder: f, what: x.what, files: x.files.length, bytes: x.files.reduce((n, y) => n + y.content.size, 0) }));
      patch({ extras });
    },
  };
};
