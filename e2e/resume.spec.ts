// A reload in the middle of training: the run resumes from its last IndexedDB checkpoint and
// reaches the same losses as an uninterrupted run with the same settings: the same on screen, and
// bit for bit in the histories the worker stored.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { collectLogs, openStudio, parseStatus, recordStatusFromLoad, shooter, statusTexts, useDemo } from './helpers';

// 12 steps checkpointed every 4: the reload comes after step 10, two steps before the next
// checkpoint, so the run resumes from step 8's (as 20 every 5 did, in 16 fewer steps).
const STEPS = 12;
const EVERY = 4;

/** Step → loss from the status texts recorded since the page loaded, skipping the first `from`. */
async function losses(page: Page, from = 0): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const t of (await statusTexts(page)).slice(from)) {
    const s = parseStatus(t);
    if (s) out.set(s.step, s.loss);
  }
  return out;
}

/** The studio with the demo model and data, set to STEPS steps checkpointed every EVERY; its status line. */
async function demoRunOf(page: Page): Promise<Locator> {
  await openStudio(page);
  await useDemo(page);
  await page.getByLabel('Max steps', { exact: true }).fill(String(STEPS));
  await page.getByLabel('Checkpoint every', { exact: true }).fill(String(EVERY));
  return page.getByTestId('train-status');
}

/** The step the status line shows (0 before the first). */
async function shownStep(status: Locator): Promise<number> {
  return parseStatus((await status.textContent()) ?? '')?.step ?? 0;
}

interface StoredRun {
  startedAt: string;
  history: { steps: number[]; loss: number[]; gradNorm: Array<number | null> };
}

/**
 * The worker's IndexedDB store (database lora-studio-runs, idb-keyval's "kv"), in the page: 'runs'
 * returns the stored run records; 'plant-pos' gives the stored checkpoint the data position that
 * versions with a streaming batcher saved, and returns its step (null without a checkpoint).
 */
async function runsStore(page: Page, action: 'runs'): Promise<StoredRun[]>;
async function runsStore(page: Page, action: 'plant-pos'): Promise<number | null>;
async function runsStore(page: Page, action: 'runs' | 'plant-pos'): Promise<StoredRun[] | number | null> {
  return page.evaluate(async (what) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('lora-studio-runs');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const store = db.transaction('kv', what === 'runs' ? 'readonly' : 'readwrite').objectStore('kv');
    const done = <T>(req: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    try {
      const keys = await done(store.getAllKeys());
      if (what === 'runs') {
        const values = await done(store.getAll());
        return values.filter((_, i) => String(keys[i]).startsWith('run|'));
      }
      const key = keys.find((k) => String(k).startsWith('ckpt|'));
      if (key === undefined) return null;
      const ckpt = (await done(store.get(key))) as { step: number };
      await done(store.put({ ...ckpt, pos: { epoch: 0, index: 3 } }, key));
      return ckpt.step;
    } finally {
      db.close();
    }
  }, action) as Promise<StoredRun[] | number | null>;
}

/** The stored run records, oldest first. */
async function storedRuns(page: Page): Promise<StoredRun[]> {
  return (await runsStore(page, 'runs')).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

test('a reload mid-training resumes from the checkpoint and matches an uninterrupted run', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await recordStatusFromLoad(page);
    const status = await demoRunOf(page);

    // 1. The uninterrupted run.
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    const reference = await losses(page);
    expect([...reference.keys()]).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    await shot('reference-run');

    // 2. The same run again, interrupted by a reload after its checkpoint at step 2·EVERY.
    const seen = (await statusTexts(page)).length;
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => shownStep(status), { timeout: 5 * 60_000 }).toBeGreaterThanOrEqual(2 * EVERY + 2);
    const before = await losses(page, seen);
    expect(before.get(1), 'the second run starts from step 1').toBeDefined();
    await shot('before-reload', false);
    await page.reload();

    // 3. It resumes by itself: the model, the dataset and the settings come back, steps continue after 2·EVERY.
    await expect(page.getByTestId('model-summary')).toContainText('random weights', { timeout: 120_000 });
    await expect(page.getByLabel('Max steps', { exact: true })).toHaveValue(String(STEPS));
    await expect(status).toHaveText(new RegExp(`^Step \\d+ of ${STEPS} · loss`), { timeout: 180_000 });
    await shot('resumed', false);
    await expect(page.getByRole('note'), 'a checkpoint of this version resumes without a notice').toHaveCount(0);
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    const after = await losses(page);
    await shot('resumed-finished');

    const resumedSteps = [...after.keys()];
    expect(resumedSteps[0], 'the first step after the reload follows the checkpoint').toBe(2 * EVERY + 1);
    expect(resumedSteps[resumedSteps.length - 1]).toBe(STEPS);
    // The interrupted run matched the reference before the reload, and the resumed one after it.
    for (const [step, loss] of before) expect(Math.abs(loss - reference.get(step)!), `step ${step} before the reload`).toBeLessThanOrEqual(0.002);
    for (const [step, loss] of after) expect(Math.abs(loss - reference.get(step)!), `step ${step} after the reload`).toBeLessThanOrEqual(0.002);
    const summary = JSON.stringify({ reference: [...reference], before: [...before], after: [...after] });
    testInfo.annotations.push({ type: 'losses', description: summary });
    console.log(summary);

    // Identical, not merely close: the stored f32 losses and gradient norms of every step.
    const [first, resumed] = await storedRuns(page);
    expect(first.history.steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(resumed.history.steps).toEqual(first.history.steps);
    expect(resumed.history.loss, 'losses of the resumed run, bit for bit').toEqual(first.history.loss);
    expect(resumed.history.gradNorm, 'gradient norms of the resumed run, bit for bit').toEqual(first.history.gradNorm);

    // Both runs are listed with their curves.
    await page.getByText(/^Past runs/).click();
    await expect(page.locator('.past-runs tbody tr')).toHaveCount(2);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});

test('a checkpoint saved by an earlier version resumes with a notice that its batch order changed', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  try {
    const status = await demoRunOf(page);
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => shownStep(status), { timeout: 5 * 60_000 }).toBeGreaterThanOrEqual(EVERY + 1);
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
    // Give the stored checkpoint the data position that versions with a streaming batcher saved.
    const planted = await runsStore(page, 'plant-pos');
    expect(planted, 'a checkpoint was stored').toBe(EVERY);
    await page.reload();
    const notice = page.getByRole('note');
    await expect(notice).toContainText('earlier version of LoRA Studio', { timeout: 180_000 });
    await expect(notice).toContainText(`continues from step ${EVERY}`);
    await expect.poll(() => shownStep(status), { timeout: 180_000 }).toBeGreaterThan(EVERY);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
