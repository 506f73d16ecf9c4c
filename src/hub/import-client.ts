// The page's side of the import worker (src/hub/import-worker.ts): start an import, follow its
// progress, cancel it. Errors come back as ImportFailure with the original error's name
// (HubAuthError, HubNotFoundError, HubNetworkError, HubCorsError, HubIntegrityError, HubQuotaError,
// StoreFullError, ImportError, ModelConfigError, SafetensorsError, AbortError, ...).
import type { ImportProgress } from './import';
import type { ImportQuant, ModelManifest } from './store';

export type ImportSourceRequest =
  | { kind: 'hub'; modelId: string; revision?: string; token?: string | null; baseUrl?: string }
  /** Files keyed by their path inside the model folder (config.json, model.safetensors, ...). */
  | { kind: 'local'; name: string; files: Record<string, Blob> };

export type ImportRequest =
  | { type: 'start'; id: number; source: ImportSourceRequest; quant: ImportQuant; name?: string; chunkBytes?: number }
  | { type: 'cancel'; id: number };

export type ImportResponse =
  | { type: 'progress'; id: number; progress: ImportProgress }
  | { type: 'done'; id: number; manifest: ModelManifest }
  | { type: 'error'; id: number; error: { name: string; message: string } };

export class ImportFailure extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RunningImport {
  done: Promise<ModelManifest>;
  cancel(): void;
}

let worker: Worker | null = null;
let nextId = 1;

function getWorker(): Worker {
  worker ??= new Worker(new URL('./import-worker.ts', import.meta.url), { type: 'module', name: 'model-import' });
  return worker;
}

/**
 * Imports (or resumes) a model in the worker. Starting the same model again after a reload resumes
 * it. `onProgress` is called at most every 100 ms.
 */
export function startImport(
  source: ImportSourceRequest,
  quant: ImportQuant,
  onProgress?: (p: ImportProgress) => void,
  options: { name?: string } = {},
): RunningImport {
  const w = getWorker();
  const id = nextId++;
  const done = new Promise<ModelManifest>((resolve, reject) => {
    const onMessage = (ev: MessageEvent<ImportResponse>): void => {
      const msg = ev.data;
      if (msg.id !== id) return;
      if (msg.type === 'progress') onProgress?.(msg.progress);
      else {
        w.removeEventListener('message', onMessage);
        if (msg.type === 'done') resolve(msg.manifest);
        else reject(new ImportFailure(msg.error.name, msg.error.message));
      }
    };
    w.addEventListener('message', onMessage);
  });
  w.postMessage({ type: 'start', id, source, quant, name: options.name } satisfies ImportRequest);
  return { done, cancel: () => w.postMessage({ type: 'cancel', id } satisfies ImportRequest) };
}
