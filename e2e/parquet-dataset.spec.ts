// A .parquet dataset in the studio: the page keeps the File and the worker reads it by byte ranges;
// the summary and token view are the jsonl ones, a mapping to a column the file lacks is named, and
// the Parquet dataset trains a few steps (a run record copies its bytes when the run starts).
import { expect, test } from '@playwright/test';
import { writeHyparquet } from '../src/data/records/parquet-testing';
import { collectLogs, openStudio, useDemo } from './helpers';

const rows = Array.from({ length: 12 }, (_, i) => ({
  messages: [
    { role: 'user', content: `What is ${i} plus ${i}?` },
    { role: 'assistant', content: `${i} plus ${i} is ${2 * i}.` },
  ],
}));

test('a .parquet dataset: read by ranges, summarized, a missing mapped column named, trained', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  try {
    await openStudio(page);
    await useDemo(page);
    const summary = page.getByTestId('dataset-summary');
    await expect(summary).toContainText('50 examples');
    const buffer = Buffer.from(writeHyparquet(rows, { messages: 'turns' }, { rowGroupSize: 5 }));
    await page.getByLabel('Dataset file', { exact: true }).setInputFiles({ name: 'chat.parquet', mimeType: 'application/octet-stream', buffer });
    await expect(summary).toContainText('chat.parquet', { timeout: 60_000 });
    await expect(summary).toContainText('12 examples');
    await expect(page.getByTestId('token-example-info')).toContainText('line 1 · ');

    await page.getByLabel('Format', { exact: true }).selectOption('completion');
    await page.getByLabel('Column mapping', { exact: true }).fill('prompt=question, completion=answer');
    await page.getByLabel('Column mapping', { exact: true }).press('Enter');
    await expect(page.getByRole('alert').filter({ hasText: "column 'question'" })).toContainText("chat.parquet, column 'question': no such column for 'prompt' (the file has messages)", { timeout: 60_000 });
    await page.getByLabel('Column mapping', { exact: true }).fill('');
    await page.getByLabel('Column mapping', { exact: true }).press('Enter');
    await page.getByLabel('Format', { exact: true }).selectOption('auto');
    await expect(summary).toContainText('12 examples', { timeout: 60_000 });

    await page.getByLabel('Max steps', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 5 * 60_000 });
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
