// The import pipeline in a Web Worker: the page posts a request, the worker downloads (or reads
// the picked files), quantizes and stores the model in IndexedDB, posting progress (at most every
// 100 ms) and the manifest or a typed error. The access token arrives in the request, lives in this
// worker's memory for the import only, and is never posted back, logged or stored.
import { HubClient } from './download';
import { folderSource, hubSource, importModel, type ImportProgress } from './import';
import { idbKeyValue, ModelStore } from './store';
import { blobFolder } from '../io/blob-files';
import type { ImportRequest, ImportResponse } from './import-client';

const running = new Map<number, AbortController>();
const post = (msg: ImportResponse): void => (self as unknown as { postMessage(m: unknown): void }).postMessage(msg);

self.onmessage = (ev: MessageEvent<ImportRequest>) => {
  const req = ev.data;
  if (req.type === 'cancel') {
    running.get(req.id)?.abort();
    return;
  }
  const ac = new AbortController();
  running.set(req.id, ac);
  const store = new ModelStore(idbKeyValue());
  const source =
    req.source.kind === 'hub'
      ? hubSource(new HubClient({ baseUrl: req.source.baseUrl, token: req.source.token ?? null }), req.source.modelId, req.source.revision ?? 'main')
      : folderSource(blobFolder(req.source.name, req.source.files));
  let last = 0;
  let pending: ImportProgress | null = null;
  const flush = (): void => {
    if (pending) post({ type: 'progress', id: req.id, progress: pending });
    pending = null;
  };
  importModel({
    store,
    source,
    quant: req.quant,
    name: req.name,
    chunkBytes: req.chunkBytes,
    signal: ac.signal,
    onProgress: (p) => {
      pending = p;
      const now = performance.now();
      if (now - last >= 100 || p.phase === 'done' || p.phase === 'files') {
        last = now;
        flush();
      }
    },
  }).then(
    (manifest) => {
      flush();
      post({ type: 'done', id: req.id, manifest });
    },
    (e: unknown) => {
      flush();
      const err = e as Error;
      post({ type: 'error', id: req.id, error: { name: err?.name ?? 'Error', message: err?.message ?? String(e) } });
    },
  ).finally(() => running.delete(req.id));
};
