// Shared steps of the studio specs.
import { readFileSync } from 'node:fs';
import { expect, type Locator, type Page, type TestInfo } from '@playwright/test';
import type { SyntheticModel } from '../src/hub/synthetic-testing';

/** Screenshots named in step order, under the test's output folder (test-results/…). */
export function shooter(page: Page, testInfo: TestInfo): (name: string, fullPage?: boolean) => Promise<void> {
  let n = 0;
  return async (name, fullPage = true) => {
    await page.screenshot({ path: testInfo.outputPath(`${String(n++).padStart(2, '0')}-${name}.png`), fullPage });
  };
}

/** Clicks `button`, expects a download named `fileName`, and saves it under the test's output folder; returns its path. */
export async function downloadAs(page: Page, button: Locator, fileName: string, testInfo: TestInfo): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download'), button.click()]);
  expect(dl.suggestedFilename()).toBe(fileName);
  const path = testInfo.outputPath(fileName);
  await dl.saveAs(path);
  return path;
}

/** Collects console errors and page errors; attach them when a test fails. */
export function collectLogs(page: Page): string[] {
  const logs: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') logs.push(`[${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) logs.push(`[http ${r.status()}] ${r.url()}`);
  });
  return logs;
}

/** Opens the studio and checks that WebGPU works here (no adapter fails the test). */
export async function openStudio(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  await expect(page.getByRole('heading', { name: 'LoRA Studio' })).toBeVisible();
  await expect(page.getByText(/GPU: /)).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('heading', { name: 'WebGPU is not available' })).toHaveCount(0);
}

/**
 * Picks a synthetic model's files as "Model files", with the tokenizer.json and tokenizer_config.json
 * of `tokenizerDir` (default: the demo's); waits for its summary.
 */
export async function pickSyntheticModel(page: Page, m: SyntheticModel, tokenizerDir: URL = new URL('../public/demo/', import.meta.url)): Promise<void> {
  const files = [...m.files]
    .filter(([name]) => !name.startsWith('tokenizer'))
    .map(([name, data]) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(typeof data === 'string' ? Buffer.from(data) : data) }));
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) files.push({ name, mimeType: 'application/json', buffer: readFileSync(new URL(name, tokenizerDir)) });
  await page.getByLabel('Model files', { exact: true }).setInputFiles(files);
  await expect(page.getByTestId('model-summary')).toBeVisible({ timeout: 180_000 });
}

/** "Use demo model": the model and the sample dataset are loaded. */
export async function useDemo(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Use demo model' }).click();
  await expect(page.getByTestId('model-summary')).toContainText('random weights', { timeout: 120_000 });
  await expect(page.getByTestId('dataset-summary')).toContainText('sample.jsonl', { timeout: 120_000 });
}

/**
 * Records every text the training status region shows, from page load on (survives reloads: an
 * init script). Read with statusTexts().
 */
export async function recordStatusFromLoad(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __statusTexts: string[] };
    w.__statusTexts = [];
    const attach = (): boolean => {
      const el = document.querySelector('[data-testid="train-status"]');
      if (!el) return false;
      new MutationObserver(() => {
        const t = el.textContent ?? '';
        if (t && w.__statusTexts[w.__statusTexts.length - 1] !== t) w.__statusTexts.push(t);
      }).observe(el, { childList: true, subtree: true, characterData: true });
      return true;
    };
    const wait = new MutationObserver(() => {
      if (attach()) wait.disconnect();
    });
    document.addEventListener('DOMContentLoaded', () => {
      if (!attach()) wait.observe(document.body, { childList: true, subtree: true });
    });
  });
}

/** Records every text the training status region shows (installed before training starts). */
export async function recordStatus(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __statusTexts: string[] };
    w.__statusTexts = [];
    const el = document.querySelector('[data-testid="train-status"]')!;
    new MutationObserver(() => {
      const t = el.textContent ?? '';
      if (t && w.__statusTexts[w.__statusTexts.length - 1] !== t) w.__statusTexts.push(t);
    }).observe(el, { childList: true, subtree: true, characterData: true });
  });
}

export async function statusTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __statusTexts: string[] }).__statusTexts);
}

/** Parses "Step N of M · loss X.XXX". */
export function parseStatus(text: string): { step: number; of: number; loss: number } | null {
  const m = /^Step (\d+) of (\d+) · loss (-?\d+\.\d{3})$/.exec(text.trim());
  return m ? { step: Number(m[1]), of: Number(m[2]), loss: Number(m[3]) } : null;
}

/**
 * Starts a run of `steps` steps checkpointed every `every`, and reloads the page once the status
 * shows step `atStep`: the run is interrupted, and the page resumes it from its record. Returns the
 * status line.
 */
export async function interruptRunByReload(page: Page, steps: number, every: number, atStep: number): Promise<Locator> {
  await page.getByLabel('Max steps', { exact: true }).fill(String(steps));
  await page.getByLabel('Checkpoint every', { exact: true }).fill(String(every));
  const status = page.getByTestId('train-status');
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect.poll(async () => parseStatus((await status.textContent()) ?? '')?.step ?? 0, { timeout: 5 * 60_000 }).toBeGreaterThanOrEqual(atStep);
  await page.reload();
  return status;
}

/** Counts main-thread long tasks (> 50 ms) from now on. */
export async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __longTasks: Array<{ at: number; ms: number }> };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ at: Math.round(e.startTime), ms: Math.round(e.duration) });
    }).observe({ type: 'longtask', buffered: false });
  });
}

/** Long tasks since watchLongTasks: start time (ms since navigation) and duration. */
export async function longTasks(page: Page): Promise<Array<{ at: number; ms: number }>> {
  return page.evaluate(() => (window as unknown as { __longTasks: Array<{ at: number; ms: number }> }).__longTasks);
}

/** performance.now() in the page. */
export async function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => Math.round(performance.now()));
}

/**
 * The port of this worker's stand-in Hub, and the next one for its CDN stand-in: the e2e build lists
 * http://127.0.0.1:<these> for every worker as Hubs its CSP may connect to (playwright.config.ts), so
 * a stand-in on any other port would be blocked. Worker i (TEST_PARALLEL_INDEX) is 100·i ports up, so
 * two specs with a stand-in Hub can run side by side.
 */
export const STAND_IN_HUB_PORT = Number(process.env.E2E_HUB_PORT ?? 5173) + 100 * Number(process.env.TEST_PARALLEL_INDEX ?? 0);
export const STAND_IN_CDN_PORT = STAND_IN_HUB_PORT + 1;
/** Every worker's stand-in Hub and CDN origins: what the e2e build lists in VITE_HUB_OVERRIDES. */
export const STAND_IN_ORIGINS = (process.env.E2E_HUB_OVERRIDES ?? `http://127.0.0.1:${STAND_IN_HUB_PORT} http://127.0.0.1:${STAND_IN_CDN_PORT}`).split(' ');
