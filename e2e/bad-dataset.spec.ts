// A dataset with bad lines is refused with every bad line named by its number; the user can skip
// them and train on the rest.
import { expect, test } from '@playwright/test';
import { collectLogs, openStudio, shooter, useDemo } from './helpers';

const chat = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });

// Lines 2, 4 and 5 are bad; line 6 is blank (skipped silently, still counted); 1, 3 and 7 are good.
const BAD_FILE = [
  chat('What is 1 plus 1?', '1 plus 1 is 2.'),
  '{"messages": [{"role": "user", "content": "unterminated"',
  chat('What is 2 plus 2?', '2 plus 2 is 4.'),
  JSON.stringify({ messages: [{ role: 'user', content: 'No answer here' }] }),
  JSON.stringify({ foo: 1 }),
  '',
  chat('What is 3 plus 3?', '3 plus 3 is 6.'),
].join('\n');

test('bad dataset lines are named by number, and can be skipped', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    await useDemo(page);
    await shot('demo-loaded');

    await page.getByLabel('Dataset file', { exact: true }).setInputFiles({ name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(BAD_FILE) });
    const alert = page.getByRole('alert', { name: 'Bad dataset lines' });
    await expect(alert).toBeVisible({ timeout: 60_000 });
    await expect(alert).toContainText('bad.jsonl was refused: 3 bad lines (2, 4, 5)');
    for (const line of [2, 4, 5]) await expect(alert.getByText(new RegExp(`^Line ${line}: `))).toBeVisible();
    await expect(alert.getByText(/^Line (1|3|6|7): /)).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Start training' })).toBeDisabled();
    await shot('refused');

    await page.getByRole('button', { name: 'Skip the bad lines and use the rest' }).click();
    const summary = page.getByTestId('dataset-summary');
    await expect(summary).toContainText('bad.jsonl', { timeout: 60_000 });
    await expect(summary).toContainText('3 examples');
    await expect(summary.getByRole('alert', { name: 'Bad dataset lines' })).toContainText('Skipped: 3 bad lines (2, 4, 5)');
    await expect(page.getByRole('button', { name: 'Start training' })).toBeEnabled();
    await shot('skipped');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
