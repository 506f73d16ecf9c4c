// A browser without WebGPU gets a clear page saying so and what would work, not a broken studio.
import { expect, test } from '@playwright/test';
import { shooter } from './helpers';

test('without WebGPU the page says so and what works', async ({ page }, testInfo) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'WebGPU is not available' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText('this browser does not offer WebGPU')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'What works' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Start training' })).toHaveCount(0);
  await shooter(page, testInfo)('no-webgpu');
});
