// The model library in real Chromium: a local stand-in Hub (same URL layout, Range,
// SHA-256 headers, a 404 and a 401 case) serves the demo model; the studio downloads it, quantizes
// it to 4-bit in its worker, stores it in IndexedDB, and after a reload with the Hub unreachable
// finds it in the library and trains a step from IndexedDB alone. A second spec closes the page in
// the middle of an import and finds the model reported as incomplete, then resumes and deletes.
//
// UI names these specs rely on (the model panel and the library): text field "Hugging Face model id",
// button "Load model", select "Quantization" (value int4), a list named "Model library" whose items
// show the model id, "int4" (or "4-bit"), and "Incomplete" for an unfinished import, with buttons
// "Use", "Resume" and "Delete"; file input "Dataset file"; number field "Max steps"; button
// "Start training"; status region data-testid="train-status".
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { startStandInHub, type StandInHub } from '../src/hub/stand-in-server-testing';
import { collectLogs, parseStatus, shooter, STAND_IN_HUB_PORT } from './helpers';

const demoDir = new URL('../public/demo/', import.meta.url);
const demoFiles = (): Map<string, Uint8Array | string> =>
  new Map<string, Uint8Array | string>(
    ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(new URL(f, demoDir)))]),
  );

const MODEL = 'stand-in/demo-llama';
const GATED = 'stand-in/gated-llama';

/** Opens the studio pointed at the stand-in Hub (helpers' openStudio would drop the ?hub= query). */
async function openStudio(page: Page, hubUrl: string): Promise<void> {
  await page.goto(`/?hub=${encodeURIComponent(hubUrl)}`);
  await expect(page.getByRole('heading', { name: 'LoRA Studio' })).toBeVisible();
  await expect(page.getByText(/GPU: /)).toBeVisible({ timeout: 60_000 });
}

/** The library list is there (an empty list has no height, so attached rather than visible). */
async function expectLibrary(page: Page): Promise<void> {
  await expect(page.getByRole('list', { name: 'Model library' })).toHaveCount(1);
}

/** The settings' quantization select (values none | int8 | int4). */
async function chooseInt4(page: Page): Promise<void> {
  await page.getByLabel('Quantization').selectOption('int4');
}

const FOUR_BIT = /int4|4-bit/;

async function loadFromHub(page: Page, id: string): Promise<void> {
  await page.getByLabel('Hugging Face model id').fill(id);
  await page.getByRole('button', { name: 'Load model' }).click();
}

function libraryItem(page: Page, id: string) {
  return page.getByRole('list', { name: 'Model library' }).getByRole('listitem').filter({ hasText: id });
}

test.describe('model library', () => {
  let hub: StandInHub;

  test.beforeEach(async () => {
    hub = await startStandInHub({
      port: STAND_IN_HUB_PORT,
      models: {
        [MODEL]: { files: demoFiles() },
        [GATED]: { files: demoFiles(), token: 'hf_standInToken123' },
      },
    });
  });
  test.afterEach(async () => hub.close());

  test('stand-in Hub → 4-bit → IndexedDB → offline reload → one training step', async ({ page }, testInfo) => {
    const logs = collectLogs(page);
    const shot = shooter(page, testInfo);
    try {
      await openStudio(page, hub.url);
      await expectLibrary(page);
      await shot('opened');

      // 404: a revision that does not exist names the file and the model.
      await loadFromHub(page, `${MODEL}@no-such-revision`);
      await expect(page.getByText(/config\.json was not found in model stand-in\/demo-llama/)).toBeVisible();
      // 401: gated, no token.
      await loadFromHub(page, GATED);
      await expect(page.getByText(/gated or private/)).toBeVisible();
      await shot('errors');
      expect(hub.log.some((r) => r.status === 404)).toBe(true);
      expect(hub.log.some((r) => r.status === 401)).toBe(true);

      await chooseInt4(page);
      await loadFromHub(page, MODEL);
      const item = libraryItem(page, MODEL);
      await expect(item).toContainText(FOUR_BIT, { timeout: 180_000 });
      await expect(item).not.toContainText('Incomplete');
      await shot('stored');
      // Downloaded with Range-capable streaming, verified, once.
      expect(hub.log.filter((r) => r.file === 'model.safetensors' && r.method === 'GET' && r.status < 300).length).toBeGreaterThan(0);

      // The Hub goes away: nothing may be fetched from it any more.
      await hub.close();
      await page.route(`${hub.url}/**`, (route) => route.abort('internetdisconnected'));
      await openStudio(page, hub.url);
      const again = libraryItem(page, MODEL);
      await expect(again).toContainText(FOUR_BIT);
      await shot('offline-library');
      await again.getByRole('button', { name: 'Use' }).click();
      await expect(page.getByTestId('model-summary')).toBeVisible({ timeout: 120_000 });

      await page.getByLabel('Dataset file').setInputFiles(new URL('sample.jsonl', demoDir).pathname);
      await expect(page.getByTestId('dataset-summary')).toContainText('sample.jsonl', { timeout: 120_000 });
      await page.getByLabel('Max steps').fill('1');
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect
        .poll(async () => parseStatus((await page.getByTestId('train-status').textContent()) ?? '')?.step ?? 0, { timeout: 300_000 })
        .toBe(1);
      const status = parseStatus((await page.getByTestId('train-status').textContent()) ?? '')!;
      expect(Number.isFinite(status.loss)).toBe(true);
      await shot('trained-offline');
    } finally {
      if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
    }
  });

  test('a page closed mid-import shows the model as incomplete; resume finishes it, delete removes it', async ({ page, context }, testInfo) => {
    await openStudio(page, hub.url);
    await expectLibrary(page);

    // Slow the Hub down (the demo weights take ~17 s) so the import is in flight when the page
    // closes, after the importer's 5-second commit has stored a first chunk.
    hub.setThrottle(32 * 1024);
    await chooseInt4(page);
    await loadFromHub(page, MODEL);
    await expect.poll(() => hub.log.filter((r) => r.file === 'model.safetensors' && r.method === 'GET').length, { timeout: 60_000 }).toBeGreaterThan(0);
    await page.waitForTimeout(9000);
    await page.close();

    hub.setThrottle(0);
    const page2 = await context.newPage();
    await openStudio(page2, hub.url);
    const item = libraryItem(page2, MODEL);
    await expect(item).toContainText('Incomplete');
    await page2.screenshot({ path: testInfo.outputPath('incomplete.png'), fullPage: true });

    const before = hub.log.length;
    await item.getByRole('button', { name: 'Resume' }).click();
    await expect(item).not.toContainText('Incomplete', { timeout: 180_000 });
    await expect(item).toContainText(FOUR_BIT);
    // Resumed with a Range request, not from the first byte.
    const resumed = hub.log.slice(before).filter((r) => r.file === 'model.safetensors' && r.method === 'GET');
    expect(resumed.some((r) => r.range !== null && !r.range.startsWith('bytes=0-'))).toBe(true);

    await item.getByRole('button', { name: 'Delete' }).click();
    await expect(libraryItem(page2, MODEL)).toHaveCount(0);
    await openStudio(page2, hub.url);
    await expect(libraryItem(page2, MODEL)).toHaveCount(0);
  });
});
