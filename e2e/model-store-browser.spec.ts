// The model store and import pipeline in real Chromium, without the studio UI: the spec starts a
// Vite dev server (same config: COOP/COEP and CSP headers) and a stand-in Hub on another origin,
// and drives src/hub's modules in the page: the real IndexedDB through idb-keyval, fetch with CORS
// and Range, crypto.subtle, navigator.storage, and the import worker. Covers what Node cannot:
// reload persistence, a page closed mid-import (reported incomplete, then resumed or deleted), and
// a CORS failure. The studio-level journey is e2e/model-store.spec.ts.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { startStandInHub, type StandInHub } from '../src/hub/stand-in-server-testing';
import { syntheticModel } from '../src/hub/synthetic-testing';

let vite: ViteDevServer;
let appUrl: string;
let hub: StandInHub;
let noCors: Server;
let noCorsUrl: string;
const model = syntheticModel({ layers: 2, hidden: 64, heads: 4, vocab: 256, dtype: 'BF16', seed: 11 });

test.beforeAll(async () => {
  hub = await startStandInHub({ models: { 'e2e/tiny': { files: model.files }, 'e2e/gated': { files: model.files, token: 'hf_e2eToken' } } });
  // A server that answers without CORS headers: the browser must refuse to read it.
  noCors = createHttpServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('{}');
  });
  await new Promise<void>((r) => noCors.listen(0, '127.0.0.1', r));
  noCorsUrl = `http://127.0.0.1:${(noCors.address() as AddressInfo).port}`;
  // The dev server's CSP connects only to the Hubs named at its start (src/security/policy.ts).
  process.env.VITE_HUB_OVERRIDES = `${hub.url} ${noCorsUrl}`;
  vite = await createServer({ configFile: new URL('../vite.config.ts', import.meta.url).pathname, server: { port: 5281, strictPort: false, host: '127.0.0.1' }, logLevel: 'error' });
  await vite.listen();
  appUrl = vite.resolvedUrls!.local[0].replace(/\/$/, '');
});

test.afterAll(async () => {
  await hub?.close();
  await new Promise((r) => noCors?.close(r));
  await vite?.close();
});

/** A page of the dev server with src/hub loaded and exposed as window.__hub. */
async function openHubPage(page: Page): Promise<void> {
  await page.goto(`${appUrl}/kernels.html?only=add`); // a light page of the app; its own check is tiny
  await page.evaluate(async () => {
    const load = (p: string) => import(/* @vite-ignore */ p);
    const [imp, store, download, loader, weights] = await Promise.all([
      load('/src/hub/import.ts'),
      load('/src/hub/store.ts'),
      load('/src/hub/download.ts'),
      load('/src/hub/load.ts'),
      load('/src/engine/model/weight-source.ts'),
    ]);
    (window as unknown as { __hub: unknown }).__hub = { imp, store, download, loader, weights };
  });
}

type Listed = { key: string; complete: boolean; quant: string; bytes: number; fraction: number | null };

async function list(page: Page): Promise<Listed[]> {
  return page.evaluate(async () => {
    const h = (window as unknown as { __hub: any }).__hub;
    return new h.store.ModelStore(h.store.idbKeyValue()).list();
  });
}

test.describe.configure({ mode: 'serial' });

test('import from a cross-origin stand-in Hub into IndexedDB; the model survives a reload', async ({ page }) => {
  await openHubPage(page);
  const res = await page.evaluate(async (hubUrl) => {
    const h = (window as unknown as { __hub: any }).__hub;
    const store = new h.store.ModelStore(h.store.idbKeyValue());
    for (const m of await store.list()) await store.delete(m.key);
    const quota = await h.download.checkStorageQuota(1);
    const client = new h.download.HubClient({ baseUrl: hubUrl });
    let events = 0;
    const manifest = await h.imp.importModel({ store, source: h.imp.hubSource(client, 'e2e/tiny'), quant: 'int4', chunkBytes: 16 * 1024, onProgress: () => events++ });
    return { key: manifest.key, chunks: manifest.chunks.length, total: manifest.totalBytes, events, quota, sha: manifest.sourceFiles[0].sha256 };
  }, hub.url);
  expect(res.key).toBe('hub:e2e/tiny@main:int4');
  expect(res.chunks).toBeGreaterThan(1);
  expect(res.events).toBeGreaterThan(5);
  expect(res.quota.quota).toBeGreaterThan(0);
  expect(res.sha).toMatch(/^[0-9a-f]{64}$/);

  await page.reload();
  await openHubPage(page);
  expect(await list(page)).toMatchObject([{ key: res.key, complete: true, quant: 'int4', bytes: res.total }]);
  const check = await page.evaluate(async (key) => {
    const h = (window as unknown as { __hub: any }).__hub;
    const store = new h.store.ModelStore(h.store.idbKeyValue());
    const manifest = await store.verify(key);
    const m = await store.open(key);
    // Read back the way the engine reads it: the library model's weight source.
    const t = await h.weights.readTensor(h.loader.storedWeightSource(m), 'model.layers.1.mlp.down_proj.weight');
    let sum = 0;
    for (const w of t.qweight) sum = (sum + w) % 1_000_000_007;
    return { tensors: manifest.tensors.length, sum, config: await m.text('config.json') };
  }, res.key);
  expect(check.tensors).toBe(model.tensors.size);
  expect(check.config).toBe(model.files.get('config.json'));
  // Same codes as quantizing in Node.
  const { quantize } = await import('../src/quant/format');
  const src = model.tensors.get('model.layers.1.mlp.down_proj.weight')!;
  const want = quantize(src.data, src.shape[0], src.shape[1], 'int4');
  let sum = 0;
  for (const w of want.qweight) sum = (sum + w) % 1_000_000_007;
  expect(check.sum).toBe(sum);
});

test('a page closed mid-import leaves an incomplete model that resumes with a Range request, or is deleted', async ({ context }) => {
  const page = await context.newPage();
  await openHubPage(page);
  hub.setThrottle(40 * 1024);
  await page.evaluate((hubUrl) => {
    const h = (window as unknown as { __hub: any }).__hub;
    const store = new h.store.ModelStore(h.store.idbKeyValue());
    const client = new h.download.HubClient({ baseUrl: hubUrl });
    const w = window as unknown as { __progress: number };
    w.__progress = 0;
    void h.imp
      .importModel({ store, source: h.imp.hubSource(client, 'e2e/tiny'), quant: 'int8', chunkBytes: 8 * 1024, commitEverySeconds: 1, onProgress: (p: { bytesDone: number }) => (w.__progress = p.bytesDone) })
      .catch(() => {});
  }, hub.url);
  await expect.poll(() => page.evaluate(() => (window as unknown as { __progress: number }).__progress), { timeout: 60_000 }).toBeGreaterThan(60_000);
  await page.close(); // the tab goes away mid-import
  hub.setThrottle(0);

  const page2 = await context.newPage();
  await openHubPage(page2);
  const incomplete = (await list(page2)).find((m) => m.key === 'hub:e2e/tiny@main:int8')!;
  expect(incomplete.complete).toBe(false);
  expect(incomplete.fraction).toBeGreaterThan(0);
  expect(incomplete.fraction).toBeLessThan(1);

  const before = hub.log.length;
  const resumed = await page2.evaluate(async (hubUrl) => {
    const h = (window as unknown as { __hub: any }).__hub;
    const store = new h.store.ModelStore(h.store.idbKeyValue());
    const client = new h.download.HubClient({ baseUrl: hubUrl });
    const m = await h.imp.importModel({ store, source: h.imp.hubSource(client, 'e2e/tiny'), quant: 'int8', chunkBytes: 8 * 1024 });
    await store.verify(m.key);
    return m.key;
  }, hub.url);
  expect((await list(page2)).find((m) => m.key === resumed)!.complete).toBe(true);
  const gets = hub.log.slice(before).filter((r) => r.file === 'model.safetensors' && r.method === 'GET');
  expect(gets.some((r) => r.range !== null && /^bytes=[1-9]\d*-$/.test(r.range))).toBe(true);

  // Another interrupted import, deleted this time.
  hub.setThrottle(40 * 1024);
  await page2.evaluate((hubUrl) => {
    const h = (window as unknown as { __hub: any }).__hub;
    const store = new h.store.ModelStore(h.store.idbKeyValue());
    const client = new h.download.HubClient({ baseUrl: hubUrl });
    const w = window as unknown as { __ac: AbortController };
    w.__ac = new AbortController();
    void h.imp.importModel({ store, source: h.imp.hubSource(client, 'e2e/tiny'), quant: 'none', chunkBytes: 8 * 1024, commitEverySeconds: 1, signal: w.__ac.signal }).catch(() => {});
  }, hub.url);
  await expect.poll(async () => (await list(page2)).some((m) => m.key === 'hub:e2e/tiny@main:none' && (m.fraction ?? 0) > 0), { timeout: 60_000 }).toBe(true);
  await page2.evaluate(() => (window as unknown as { __ac: AbortController }).__ac.abort());
  hub.setThrottle(0);
  await page2.evaluate(async () => {
    const h = (window as unknown as { __hub: any }).__hub;
    await new h.store.ModelStore(h.store.idbKeyValue()).delete('hub:e2e/tiny@main:none');
  });
  await page2.reload();
  await openHubPage(page2);
  // (Each test has its own browser context, so its own IndexedDB.)
  expect((await list(page2)).map((m) => m.key)).toEqual(['hub:e2e/tiny@main:int8']);
});

test('401, 404 and CORS failures get their own errors in the browser; the worker imports too', async ({ page }) => {
  await openHubPage(page);
  const errors = await page.evaluate(
    async ({ hubUrl, noCorsUrl }) => {
      const h = (window as unknown as { __hub: any }).__hub;
      const out: Record<string, { name: string; message: string }> = {};
      const grab = async (k: string, p: Promise<unknown>) => {
        try {
          await p;
          out[k] = { name: 'none', message: '' };
        } catch (e) {
          out[k] = { name: (e as Error).name, message: (e as Error).message };
        }
      };
      await grab('gated', new h.download.HubClient({ baseUrl: hubUrl }).text('e2e/gated', 'main', 'config.json'));
      await grab('missing', new h.download.HubClient({ baseUrl: hubUrl }).text('e2e/tiny', 'main', 'nope.json'));
      await grab('cors', new h.download.HubClient({ baseUrl: noCorsUrl }).text('e2e/tiny', 'main', 'config.json'));
      return out;
    },
    { hubUrl: hub.url, noCorsUrl },
  );
  expect(errors.gated.name).toBe('HubAuthError');
  expect(errors.gated.message).toMatch(/gated or private/);
  expect(errors.missing.name).toBe('HubNotFoundError');
  expect(errors.missing.message).toMatch(/nope\.json was not found in model e2e\/tiny/);
  expect(errors.cors.name).toBe('HubCorsError');

  const viaWorker = await page.evaluate(async (hubUrl) => {
    const path = '/src/hub/import-client.ts';
    const client = await import(/* @vite-ignore */ path);
    let progress = 0;
    const run = client.startImport({ kind: 'hub', modelId: 'e2e/gated', token: 'hf_e2eToken', baseUrl: hubUrl }, 'int4', () => progress++);
    const manifest = await run.done;
    return { key: manifest.key, progress };
  }, hub.url);
  expect(viaWorker.key).toBe('hub:e2e/gated@main:int4');
  expect(viaWorker.progress).toBeGreaterThan(0);
});
