// A dataset from the Hub by its id (issue 26) against the stand-in Hub (src/hub/stand-in-datasets-testing.ts):
// search lists datasets with downloads, size and the gated mark; choosing one lists its configs and
// splits; the chosen split (two Parquet shards written by hyparquet-writer) is downloaded with progress,
// its row count, columns and first rows shown, a column mapping proposed (question → prompt,
// answer → completion); the token preview follows the mapping; 3 steps train on the demo model and
// the .zip's model card names the dataset id. A gated dataset without a token is named, no file of it
// is requested and nothing is kept in IndexedDB. After a reload the kept split is used, not downloaded,
// and a run interrupted by a reload resumes with its card naming the dataset.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { startStandInHub, type StandInHub } from '../src/hub/stand-in-server-testing';
import { DATASET_TOKEN, standInDatasets, QA_ROWS } from '../src/hub/stand-in-datasets-data-testing';
import { standInDatasetSha } from '../src/hub/stand-in-datasets-testing';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, downloadAs, interruptRunByReload, parseStatus, recordStatus, shooter, statusTexts, STAND_IN_HUB_PORT, useDemo } from './helpers';

const STAND_IN = `http://127.0.0.1:${STAND_IN_HUB_PORT}`;

async function openStudio(page: Page): Promise<void> {
  await page.goto(`/?hub=${encodeURIComponent(STAND_IN)}`);
  await expect(page.getByRole('heading', { name: 'LoRA Studio' })).toBeVisible();
  await expect(page.getByText(/GPU: /)).toBeVisible({ timeout: 60_000 });
}

/** Keys of the page's dataset store (IndexedDB lora-studio-datasets, idb-keyval's store "kv"). */
async function storedKeys(page: Page): Promise<string[]> {
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const req = indexedDB.open('lora-studio-datasets');
        req.onerror = () => reject(req.error);
        req.onupgradeneeded = () => req.result.createObjectStore('kv');
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('kv')) return resolve([]);
          const keys = db.transaction('kv').objectStore('kv').getAllKeys();
          keys.onsuccess = () => resolve(keys.result.map(String));
          keys.onerror = () => reject(keys.error);
        };
      }),
  );
}

/** Opens studio/qa-pairs by its id and uses its `tiny` config's train split (one Parquet file, 4 rows). */
async function useTinySplit(page: Page): Promise<void> {
  await page.getByLabel('Hugging Face dataset id').fill('studio/qa-pairs');
  await page.getByRole('button', { name: 'Open dataset' }).click();
  await page.getByLabel('Config', { exact: true }).selectOption('tiny');
  await page.getByRole('button', { name: 'Use this split' }).click();
}

test.describe('Hub datasets', () => {
  let hub: StandInHub;
  test.beforeEach(async () => {
    hub = await startStandInHub({ port: STAND_IN_HUB_PORT, models: {}, datasets: standInDatasets() });
  });
  test.afterEach(async () => {
    await hub.close().catch(() => undefined);
  });

  test('search, pick config and split, see the first rows and the token preview, train 3 steps; the card names the dataset', async ({ page }, testInfo) => {
    const logs = collectLogs(page);
    const shot = shooter(page, testInfo);
    try {
      await openStudio(page);
      await useDemo(page);

      await page.getByLabel('Hugging Face dataset id').pressSequentially('qa', { delay: 20 });
      const results = page.getByRole('list', { name: 'Hub datasets' });
      await expect(results.getByTestId('hub-dataset-hit')).toHaveCount(2);
      await expect(results.getByTestId('hub-dataset-hit').first()).toContainText('studio/qa-pairs');
      await expect(results.getByTestId('hub-dataset-hit').first()).toContainText('900 downloads');
      await expect(results.getByTestId('hub-dataset-hit').first()).toContainText('n<1K rows');
      await expect(results.getByTestId('hub-dataset-hit').nth(1)).toContainText('Gated');
      await shot('search');

      await page.getByRole('button', { name: 'Open studio/qa-pairs' }).click();
      const configSelect = page.getByLabel('Config', { exact: true });
      await expect(configSelect.locator('option')).toHaveText(['default', 'tiny']);
      await expect(page.getByLabel('Split', { exact: true }).locator('option')).toHaveText(['train (2 files)', 'test (1 file)']);
      await page.getByLabel('Split', { exact: true }).selectOption('train');
      // Before any download: the row count and first rows, read by byte ranges (the footer, the first row group).
      const preview = page.getByTestId('hub-dataset-preview');
      await expect(preview).toContainText('studio/qa-pairs · default/train · 20 rows · columns question, answer · read from the Hub, not downloaded yet', { timeout: 60_000 });
      const peeked = hub.log.filter((l) => l.file === 'parquet/default/train/0.parquet' && l.method === 'GET');
      expect(peeked.length).toBeGreaterThan(0);
      expect(peeked.every((l) => l.range !== null)).toBe(true);
      await shot('peek');
      // 16 rows: the first shard's 12 and 4 of the second, read by the worker as one source.
      await page.getByLabel('Row limit', { exact: true }).fill('16');
      await page.getByRole('button', { name: 'Use this split' }).click();

      await expect(page.getByTestId('dataset-summary')).toContainText('studio/qa-pairs default-train.parquet', { timeout: 120_000 });
      await expect(preview).toContainText('studio/qa-pairs · default/train · 20 rows · columns question, answer');
      await expect(preview).not.toContainText('not downloaded yet');
      await expect(page.getByRole('table', { name: 'First rows' }).locator('tbody tr')).toHaveCount(5);
      await expect(page.getByRole('table', { name: 'First rows' }).locator('tbody tr').first()).toContainText(QA_ROWS[0].question);
      await expect(page.getByTestId('hub-dataset-proposal')).toContainText('prompt=question,completion=answer');
      // The dataset flow runs on the split with the proposed mapping and the row limit.
      const summary = page.getByTestId('dataset-summary');
      await expect(summary).toContainText('studio/qa-pairs default-train.parquet', { timeout: 120_000 });
      await expect(summary).toContainText('16 examples');
      await expect(page.getByTestId('token-view')).toContainText(QA_ROWS[0].question.split(' ')[0]);
      await expect(page.getByTestId('token-view').locator('.tok.trained').first()).toBeVisible();
      await shot('split');
      // Both shards were kept in this browser.
      const kept = `f|studio/qa-pairs|${standInDatasetSha('studio/qa-pairs')}|parquet-conversion|default/train/`;
      expect(await storedKeys(page)).toEqual(expect.arrayContaining([`${kept}0.parquet`, `${kept}1.parquet`]));

      await page.getByLabel('Max steps', { exact: true }).fill('3');
      await recordStatus(page);
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
      expect((await statusTexts(page)).map(parseStatus).filter((s) => s !== null).at(-1)?.step).toBe(3);

      const zipPath = await downloadAs(page, page.getByRole('button', { name: 'Download .zip' }), 'lora-adapter.zip', testInfo);
      const zip = readZip(new Uint8Array(readFileSync(zipPath)));
      const card = new TextDecoder().decode(zip.entries.find((e) => e.name === 'README.md')!.data);
      testInfo.attach('README.md', { body: card, contentType: 'text/markdown' }).catch(() => undefined);
      expect(card).toContain('datasets:\n  - "studio/qa-pairs"');
      expect(card).toContain('- Dataset: [studio/qa-pairs](https://huggingface.co/datasets/studio/qa-pairs) (config `default`, split `train`');
      expect(card).toContain('- Size: 16 examples');
      await shot('trained');
    } finally {
      testInfo.attach('console', { body: logs.join('\n'), contentType: 'text/plain' }).catch(() => undefined);
    }
  });

  test('a gated dataset without a token is named, no file of it is requested and nothing is kept; with the access token it opens', async ({ page }, testInfo) => {
    const shot = shooter(page, testInfo);
    await openStudio(page);
    await page.getByLabel('Hugging Face dataset id').fill('studio/gated-qa');
    await page.getByRole('button', { name: 'Open dataset' }).click();
    await expect(page.getByText(/Dataset studio\/gated-qa is gated: accept its conditions .* give an access token .*Nothing was downloaded\./)).toBeVisible({ timeout: 30_000 });
    await shot('gated');
    expect(hub.log.filter((l) => l.model === 'datasets/studio/gated-qa').map((l) => l.file)).toEqual(['info']);
    expect((await storedKeys(page)).filter((k) => k.includes('gated-qa'))).toEqual([]);
    await expect(page.getByTestId('hub-dataset-choice')).toHaveCount(0);

    // The one access token (the model panel's field), once the user lets this host receive it, opens it.
    await page.getByLabel('Access token').fill(DATASET_TOKEN);
    await page.getByRole('checkbox', { name: `Send my token to 127.0.0.1:${STAND_IN_HUB_PORT}` }).check();
    await page.getByRole('button', { name: 'Open dataset' }).click();
    await expect(page.getByTestId('hub-dataset-choice')).toBeVisible({ timeout: 30_000 });
    expect(hub.log.filter((l) => l.model === 'datasets/studio/gated-qa' && l.auth).length).toBeGreaterThan(0);
  });

  test('a reload reuses the split kept in IndexedDB: no file is downloaded again', async ({ page }, testInfo) => {
    const shot = shooter(page, testInfo);
    await openStudio(page);
    await useTinySplit(page);
    const preview = page.getByTestId('hub-dataset-preview');
    await expect(preview).toContainText('studio/qa-pairs · tiny/train · 4 rows', { timeout: 60_000 });
    await expect(preview).not.toContainText('not downloaded yet');
    await expect(preview).not.toContainText('kept in this browser');
    const whole = () => hub.log.filter((l) => l.file === 'parquet/tiny/train/0.parquet' && l.method === 'GET' && l.range === null).length;
    expect(whole()).toBe(1);

    await page.reload();
    await expect(page.getByText(/GPU: /)).toBeVisible({ timeout: 60_000 });
    await useTinySplit(page);
    await expect(preview).toContainText('studio/qa-pairs · tiny/train · 4 rows · columns question, answer · kept in this browser', { timeout: 60_000 });
    expect(whole()).toBe(1);
    await shot('reused');
  });

  test('a run on a Hub split interrupted by a reload resumes from its record; the card still names the dataset, not a file', async ({ page }, testInfo) => {
    const logs = collectLogs(page);
    const shot = shooter(page, testInfo);
    try {
      await openStudio(page);
      await useDemo(page);
      await useTinySplit(page);
      const summary = page.getByTestId('dataset-summary');
      await expect(summary).toContainText('4 examples', { timeout: 120_000 });
      const status = await interruptRunByReload(page, 10, 2, 3);

      // The run's record holds the split's file and where it came from: no download, and the card names the id.
      await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 5 * 60_000 });
      await expect(status).toHaveText(/^Step 10 of 10 · /);
      const zipPath = await downloadAs(page, page.getByRole('button', { name: 'Download .zip' }), 'lora-adapter.zip', testInfo);
      const card = new TextDecoder().decode(readZip(new Uint8Array(readFileSync(zipPath))).entries.find((e) => e.name === 'README.md')!.data);
      testInfo.attach('README.md', { body: card, contentType: 'text/markdown' }).catch(() => undefined);
      expect(card).toContain('- Dataset: [studio/qa-pairs](https://huggingface.co/datasets/studio/qa-pairs) (config `tiny`, split `train`');
      expect(card).not.toContain('- File:');
      await shot('resumed');
    } finally {
      testInfo.attach('console', { body: logs.join('\n'), contentType: 'text/plain' }).catch(() => undefined);
    }
  });
});
