// Faults in the studio (issue 15): a GPU device destroyed mid-run pauses the run, a new device is
// requested and the run resumes from its checkpoint with the losses of an uninterrupted run (bit
// for bit in the histories the worker stores); Past runs export that checkpoint as the adapter
// Export writes, and delete a run. A quota-limited origin (CDP Storage.overrideQuotaForOrigin)
// refuses a new run with a typed error on the page and keeps every earlier run.
// The device is destroyed by the page's test hook ?test-lose-device-at=N (after step N, once).
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, openStudio, shooter, useDemo } from './helpers';

const STEPS = 8;
const EVERY = 3;
const LOSE_AT = 5;
/** The scratch database the quota test fills until the browser refuses a write. */
const PROBE_DB = 'quota-probe';

interface StoredRun {
  id: string;
  startedAt: string;
  status: string;
  checkpointStep: number;
  history: { steps: number[]; loss: number[]; gradNorm: Array<number | null> };
}

/** The run records of the worker's IndexedDB store (lora-studio-runs, idb-keyval's "kv"), oldest first. */
async function storedRuns(page: Page): Promise<StoredRun[]> {
  const runs = await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('lora-studio-runs');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const done = <T>(req: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    try {
      const store = db.transaction('kv', 'readonly').objectStore('kv');
      const keys = await done(store.getAllKeys());
      const values = await done(store.getAll());
      return values.filter((_, i) => String(keys[i]).startsWith('run|')) as unknown[];
    } finally {
      db.close();
    }
  });
  return (runs as StoredRun[]).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** The step of run `id`'s stored checkpoint (null without one; -1 when its three arrays are not whole). */
async function storedCheckpointStep(page: Page, id: string): Promise<number | null> {
  return page.evaluate(async (key) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('lora-studio-runs');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    try {
      const req = db.transaction('kv', 'readonly').objectStore('kv').get(key);
      type Ckpt = { step: number; params: Float32Array; m: Float32Array; v: Float32Array };
      const ckpt = await new Promise<Ckpt | undefined>((resolve, reject) => {
        req.onsuccess = () => resolve(req.result as Ckpt | undefined);
        req.onerror = () => reject(req.error);
      });
      if (!ckpt) return null;
      const n = ckpt.params.length;
      return n > 0 && ckpt.m.length === n && ckpt.v.length === n ? ckpt.step : -1;
    } finally {
      db.close();
    }
  }, `ckpt|${id}`);
}

/** The demo model and data, STEPS steps checkpointed every EVERY, with dropout (its masks follow the step), started. */
async function trainDemo(page: Page, path = '/'): Promise<void> {
  await openStudio(page, path);
  await useDemo(page);
  await page.getByLabel('LoRA dropout', { exact: true }).fill('0.1');
  await page.getByLabel('Max steps', { exact: true }).fill(String(STEPS));
  await page.getByLabel('Checkpoint every', { exact: true }).fill(String(EVERY));
  await page.getByRole('button', { name: 'Start training' }).click();
}

test('a GPU device destroyed mid-run resumes from its checkpoint with the losses of an uninterrupted run', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    // 1. The uninterrupted run.
    await trainDemo(page);
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });

    // 2. The same run, its device destroyed after step LOSE_AT: it continues from step EVERY.
    await trainDemo(page, `/?test-lose-device-at=${LOSE_AT}`);
    const note = page.getByRole('note');
    await expect(note).toContainText('The GPU device was lost (destroyed', { timeout: 5 * 60_000 });
    await shot('device-lost', false);
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    await expect(note).toContainText(`the run continues on a new device from its checkpoint at step ${EVERY}`);
    await expect(page.getByRole('alert')).toHaveCount(0);
    await shot('resumed-finished');

    const [first, second] = await storedRuns(page);
    expect(first.history.steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(second.status).toBe('finished');
    expect(second.history.steps).toEqual(first.history.steps);
    expect(second.history.loss, 'losses after the device loss, bit for bit').toEqual(first.history.loss);
    expect(second.history.gradNorm, 'gradient norms after the device loss, bit for bit').toEqual(first.history.gradNorm);
    console.log(JSON.stringify({ uninterrupted: first.history.loss, interrupted: second.history.loss }));

    // 3. Past runs: the run's checkpoint (step STEPS, the end) exported without the trainer is the
    // adapter Export downloads from the trainer.
    const [adapterDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download adapter' }).click()]);
    const adapterPath = testInfo.outputPath('trainer-adapter.safetensors');
    await adapterDl.saveAs(adapterPath);
    await page.getByText(/^Past runs/).click();
    const rows = page.locator('.past-runs tbody tr');
    await expect(rows).toHaveCount(2);
    const newest = rows.first();
    await expect(newest.getByRole('button', { name: 'Resume' }), 'a finished run does not resume').toBeDisabled();
    const [zipDl] = await Promise.all([page.waitForEvent('download'), newest.getByRole('button', { name: 'Export' }).click()]);
    expect(zipDl.suggestedFilename()).toBe('lora-adapter.zip');
    const zipPath = testInfo.outputPath('past-run.zip');
    await zipDl.saveAs(zipPath);
    const zip = readZip(new Uint8Array(readFileSync(zipPath)));
    expect(zip.entries.map((e) => e.name)).toEqual(['adapter_model.safetensors', 'adapter_config.json', 'README.md']);
    const weights = zip.entries.find((e) => e.name === 'adapter_model.safetensors')!.data;
    expect(Buffer.compare(Buffer.from(weights), readFileSync(adapterPath)), "checkpoint export = the trainer's adapter").toBe(0);

    // Delete the older run: its record goes, the other stays.
    await rows.last().getByRole('button', { name: 'Delete' }).click();
    await expect(rows).toHaveCount(1);
    expect((await storedRuns(page)).map((r) => r.id)).toEqual([second.id]);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});

test('where no device comes back the run stays paused: Past runs exports its checkpoint and resumes it to the same losses', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await trainDemo(page);
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });

    await trainDemo(page, `/?test-lose-device-at=${LOSE_AT}&test-no-device`);
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('Training paused', { timeout: 5 * 60_000 });
    await expect(alert).toContainText('no new device could be had');
    await expect(alert).toContainText(`paused at its checkpoint at step ${EVERY}`);
    await expect(alert).toContainText('(RunPausedError)');
    await page.getByText(/^Past runs/).click();
    const rows = page.locator('.past-runs tbody tr');
    await expect(rows).toHaveCount(2);
    const paused = rows.first();
    await expect(paused).toContainText('paused (GPU lost)');
    await shot('paused');
    const runs0 = await storedRuns(page);
    expect(runs0[1].status).toBe('paused');
    expect(runs0[1].checkpointStep).toBe(EVERY);

    // Its checkpoint as an adapter, with no trainer in the session.
    const [zipDl] = await Promise.all([page.waitForEvent('download'), paused.getByRole('button', { name: 'Export' }).click()]);
    const zipPath = testInfo.outputPath('paused-run.zip');
    await zipDl.saveAs(zipPath);
    const zip = readZip(new Uint8Array(readFileSync(zipPath)));
    expect(zip.entries.map((e) => e.name)).toEqual(['adapter_model.safetensors', 'adapter_config.json', 'README.md']);
    const config = JSON.parse(new TextDecoder().decode(zip.entries.find((e) => e.name === 'adapter_config.json')!.data)) as { peft_type: string; r: number };
    expect(config.peft_type).toBe('LORA');

    // Back on a page with a device: Resume continues it from step EVERY to the end, to the same losses.
    await openStudio(page);
    await page.getByText(/^Past runs/).click();
    await rows.first().getByRole('button', { name: 'Resume' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    const [first, second] = await storedRuns(page);
    expect(second.id).toBe(runs0[1].id);
    expect(second.status).toBe('finished');
    expect(second.history.loss, 'losses of the resumed run, bit for bit').toEqual(first.history.loss);
    expect(second.history.gradNorm).toEqual(first.history.gradNorm);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});

/**
 * Chromium applies an overridden quota lazily (writes may pass for a while after the CDP call), so
 * the test writes 1 MiB into a scratch database until a write is refused: from then on the run
 * store's next write meets the quota too, and the outcome does not depend on timing.
 */
async function untilQuotaEnforced(page: Page): Promise<void> {
  await expect
    .poll(
      () =>
        page.evaluate(async (name) => {
          try {
            const db = await new Promise<IDBDatabase>((resolve, reject) => {
              const open = indexedDB.open(name, 1);
              open.onupgradeneeded = () => open.result.createObjectStore('probe');
              open.onsuccess = () => resolve(open.result);
              open.onerror = () => reject(open.error);
            });
            try {
              return await new Promise<string>((resolve) => {
                const tx = db.transaction('probe', 'readwrite');
                tx.objectStore('probe').put(new Uint8Array(1 << 20), Math.random());
                tx.oncomplete = () => resolve('written');
                tx.onabort = () => resolve(tx.error?.name ?? 'aborted');
              });
            } finally {
              db.close();
            }
          } catch (e) {
            return (e as Error).name;
          }
        }, PROBE_DB),
      { timeout: 60_000, message: 'a write refused under the overridden quota' },
    )
    .toBe('QuotaExceededError');
}

test('a quota-limited origin refuses a new run with a typed error and keeps every earlier run', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await trainDemo(page);
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    const before = await storedRuns(page);
    expect(before).toHaveLength(1);

    // The origin's quota below what it already uses: the browser refuses every new write. (Chromium's
    // estimate() in a Playwright context does not report an overridden quota, so the run store's
    // estimate passes and the refused write itself must become the typed error, with nothing half-written.)
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
    expect(usage).toBeGreaterThan(0);
    const cdp = await page.context().newCDPSession(page);
    const origin = new URL(page.url()).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 });
    try {
      await untilQuotaEnforced(page);
      await page.getByRole('button', { name: 'Start training' }).click();
      const alert = page.getByRole('alert');
      await expect(alert).toContainText('Not enough browser storage', { timeout: 5 * 60_000 });
      await expect(alert).toContainText('(RunStoreQuotaError)');
      await shot('quota');
      // Every earlier run is kept as it was, its checkpoint included. Chromium enforces the quota
      // lazily (a few writes may still pass), so the refused run may be stored in part; if so, whole:
      // its checkpoint is one of its cadence's, all three arrays complete (nothing half-written).
      const after = await storedRuns(page);
      expect(after[0], 'the earlier run is kept as it was').toEqual(before[0]);
      expect(await storedCheckpointStep(page, before[0].id)).toBe(STEPS);
      expect(after.length).toBeLessThanOrEqual(2);
      const refused = after[1] ? await storedCheckpointStep(page, after[1].id) : null;
      if (refused !== null) expect([EVERY, 2 * EVERY], 'the refused run: a whole checkpoint').toContain(refused);
      await page.getByText(/^Past runs/).click();
      await expect(page.locator('.past-runs tbody tr').last()).toContainText('finished');
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      await page.evaluate((name) => new Promise((done) => (indexedDB.deleteDatabase(name).onsuccess = done)), PROBE_DB);
    }
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
