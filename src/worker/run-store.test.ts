// The run store's quota check, before anything is written, and its dataset copy as a Blob (in
// fake-indexeddb here; the IndexedDB writes themselves are exercised in Chromium by the e2e specs).
import 'fake-indexeddb/auto';
import { createStore, set } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { checkpointBytes, createRun, emptyHistory, ensureRoom, loadRunDataset, RunStoreQuotaError, type RunRecord } from './run-store';

const storage = (usage: number, quota: number) => ({ estimate: async () => ({ usage, quota }) });

describe('run store quota', () => {
  it('refuses with a typed error naming what did not fit, before writing', async () => {
    const e = await ensureRoom('the checkpoint of step 4', 2_000_000, storage(9_000_000, 10_000_000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunStoreQuotaError);
    expect((e as RunStoreQuotaError).available).toBe(1_000_000);
    expect((e as Error).message).toMatch(/^Not enough browser storage for the checkpoint of step 4: .*earlier runs and checkpoints are kept\.$/);
  });
  it('lets a write that fits through', async () => {
    await expect(ensureRoom('x', 1_000_000, storage(9_000_000, 10_000_000))).resolves.toBeUndefined();
  });
  it('a checkpoint holds the parameters and both AdamW moments in f32', () => {
    expect(checkpointBytes(1000)).toBe(12_000);
  });
});

describe('run store dataset copy', () => {
  const record = (id: string): RunRecord => ({
    id,
    status: 'running',
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    model: { source: { kind: 'demo', baseUrl: '/demo/' }, label: 'demo', name: 'Demo model', hubId: null },
    dataset: { fileName: 'x.parquet', skipInvalid: false, examples: 3 },
    settings: {} as RunRecord['settings'],
    form: {},
    history: emptyHistory(),
    checkpointStep: 0,
    error: null,
  });

  it('keeps the Blob it is given and gives it back', async () => {
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
    await createRun(record('blob-run'), new Blob([bytes.subarray(0, 1000), new Blob([bytes.subarray(1000)])]));
    const kept = await loadRunDataset('blob-run');
    expect(kept).toBeInstanceOf(Blob);
    expect(new Uint8Array(await kept!.arrayBuffer())).toEqual(bytes);
  });

  it("gives a run stored before Blobs (an ArrayBuffer) back as a Blob", async () => {
    await createRun(record('old-run'), new Blob([]));
    await set('data|old-run', Uint8Array.of(1, 2, 3).buffer, createStore('lora-studio-runs', 'kv'));
    const kept = await loadRunDataset('old-run');
    expect(kept).toBeInstanceOf(Blob);
    expect(new Uint8Array(await kept!.arrayBuffer())).toEqual(Uint8Array.of(1, 2, 3));
    expect(await loadRunDataset('no-such-run')).toBeUndefined();
  });
});
