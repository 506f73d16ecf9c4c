// Settings validation shows every error at once; a run can be paused, resumed and stopped, and a
// stopped run's adapter can be downloaded.
import { expect, test } from '@playwright/test';
import { collectLogs, openStudio, parseStatus, shooter, useDemo } from './helpers';

test('every settings error is shown at once, then pause, resume and stop', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    await useDemo(page);

    // Three bad values: three messages in one alert, each field marked invalid.
    await page.getByLabel('Max steps', { exact: true }).fill('0');
    await page.getByLabel('LoRA rank', { exact: true }).fill('2.5');
    await page.getByLabel('Learning rate', { exact: true }).fill('0');
    await page.getByRole('button', { name: 'Start training' }).click();
    const errors = page.getByRole('alert', { name: 'Settings errors' });
    await expect(errors).toContainText('Fix 3 settings before training');
    await expect(errors.getByRole('listitem')).toHaveText(['LoRA rank must be a whole number', 'Learning rate must be greater than 0', 'Max steps must be at least 1']);
    for (const name of ['Max steps', 'LoRA rank', 'Learning rate']) await expect(page.getByLabel(name, { exact: true })).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByRole('region', { name: 'Train' }).getByRole('status')).toHaveText('');
    await shot('invalid-settings');

    // Fixed: the errors go away as the fields change.
    await page.getByLabel('Max steps', { exact: true }).fill('200');
    await page.getByLabel('LoRA rank', { exact: true }).fill('4');
    await page.getByLabel('Learning rate', { exact: true }).fill('0.005');
    await expect(errors).toHaveCount(0);

    const status = page.getByRole('region', { name: 'Train' }).getByRole('status');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(status).toHaveText(/^Step [2-9]\d* of 200 · /, { timeout: 180_000 });
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible({ timeout: 60_000 });
    const pausedAt = parseStatus((await status.textContent()) ?? '')!.step;
    await page.waitForTimeout(3000);
    expect(parseStatus((await status.textContent()) ?? '')!.step, 'no step while paused').toBe(pausedAt);
    await shot('paused');

    await page.getByRole('button', { name: 'Resume' }).click();
    await expect(status).toHaveText(new RegExp(`^Step ${pausedAt + 1} of 200`), { timeout: 60_000 });
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect(page.getByText('Training stopped.')).toBeVisible({ timeout: 60_000 });
    const stoppedAt = parseStatus((await status.textContent()) ?? '')!.step;
    expect(stoppedAt).toBeGreaterThan(pausedAt);
    expect(stoppedAt).toBeLessThan(200);
    await expect(page.getByRole('button', { name: 'Start training' })).toBeEnabled();
    await expect(page.getByRole('button', { name: 'Download adapter' })).toBeEnabled();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download adapter' }).click()]);
    expect(dl.suggestedFilename()).toBe('adapter_model.safetensors');
    await shot('stopped');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
