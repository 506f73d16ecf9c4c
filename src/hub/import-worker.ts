// The import pipeline in a Web Worker: the page calls `import` (src/hub/import-client.ts, over
// src/util/rpc.ts), the worker downloads (or reads the picked files), quantizes and stores the
// model in IndexedDB, posting progress (at most every 100 ms) and replying with the manifest or a
// typed error. The access token arrives in the request, lives in this worker's memory for the
// import only, and is never posted back, logged or stored.
import { HubClient } from './download';
import { folderSource, hubSource, importModel, type ImportProgress } from './import';
import { idbKeyValue, ModelStore } from './store';
import { blobFolder } from '../io/blob-files';
import { rpcServer, type RpcRequest } from '../util/rpc';
import type { ImportEvent, ImportMethods } from './import-client';

const running = new Map<number, AbortController>();
const post = (msg: unknown): void => (self as unknown as { postMessage(m: unknown): void }).postMessage(msg);

const serve = rpcServer<ImportMethods, ImportEvent>(
  {
    cancel: async ({ id }) => {
      running.get(id)?.abort();
      return null;
    },
    import: async (req, id) => {
      const ac = new AbortController();
      running.set(id, ac);
      const source =
        req.source.kind === 'hub'
          ? hubSource(new HubClient({ baseUrl: req.source.baseUrl, token: req.source.token ?? null }), req.source.modelId, req.source.revision ?? 'main')
          : folderSource(blobFolder(req.source.name, req.source.files));
      let last = 0;
      let pending: ImportProgress | null = null;
      const flush = (): void => {
        if (pending) post({ kind: 'event', type: 'progress', id, progress: pending } satisfies ImportEvent);
        pending = null;
      };
      try {
        return await importModel({
          store: new ModelStore(idbKeyValue()),
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
        });
      } finally {
        flush();
        running.delete(id);
      }
    },
  },
  post,
);

self.onmessage = (ev: MessageEvent<RpcRequest<ImportMethods>>) => void serve(ev.data);
