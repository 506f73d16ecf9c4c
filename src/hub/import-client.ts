// The page's side of the import worker (src/hub/import-worker.ts), over the one RPC layer
// (src/util/rpc.ts): start an import, follow its progress, cancel it. Errors come back as
// RpcError with the original error's name
// (HubAuthError, HubNotFoundError, HubNetworkError, HubCorsError, HubIntegrityError, HubQuotaError,
// StoreFullError, ImportError, ModelConfigError, SafetensorsError, AbortError, ...).
import { RpcClient } from '../util/rpc';
import type { ImportProgress } from './import';
import type { ImportQuant, ModelManifest } from './store';

export type ImportSourceRequest =
  | { kind: 'hub'; modelId: string; revision?: string; token?: string | null; baseUrl?: string }
  /** Files keyed by their path inside the model folder (config.json, model.safetensors, ...). */
  | { kind: 'local'; name: string; files: Record<string, Blob> };

/** The import worker's methods and events (src/util/rpc.ts). */
export type ImportMethods = {
  /** Imports (or resumes) a model; `progress` events with this request's id. */
  import: { params: { source: ImportSourceRequest; quant: ImportQuant; name?: string; chunkBytes?: number }; result: ModelManifest };
  /** Aborts the import started by request `id` (its reply then rejects with an AbortError). */
  cancel: { params: { id: number }; result: null };
};

export type ImportEvent = { kind: 'event'; type: 'progress'; id: number; progress: ImportProgress };

export interface RunningImport {
  done: Promise<ModelManifest>;
  cancel(): void;
}

let client: RpcClient<ImportMethods, ImportEvent> | null = null;

function getClient(): RpcClient<ImportMethods, ImportEvent> {
  client ??= new RpcClient(new Worker(new URL('./import-worker.ts', import.meta.url), { type: 'module', name: 'model-import' }), undefined, 'the import worker');
  return client;
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
  const c = getClient();
  const id = c.peekId();
  const done = c.call('import', { source, quant, name: options.name }, { onProgress });
  return { done, cancel: () => void c.call('cancel', { id }) };
}
