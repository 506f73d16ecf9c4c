// "Try it": the demo model answers a prompt (base model only before any run), then after a short
// training run the base model and the adapter answer side by side, greedy, 8 tokens at most.
import { expect, test, type Locator } from '@playwright/test';
import { collectLogs, openStudio, shooter, useDemo } from './helpers';

/** The "N tokens · reason" line under an output, once that side has ended. */
function endedLine(output: Locator): Locator {
  return output.locator('xpath=..').locator('.tryit-meta');
}

test('try it: base model, then base and adapter side by side after 5 steps', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    await useDemo(page);
    const panel = page.getByRole('region', { name: 'Try it' });
    await expect(panel.getByRole('heading', { name: 'Try it' })).toBeVisible();
    const base = panel.getByLabel('Base model');
    const adapter = panel.getByLabel('With adapter');
    const generate = panel.getByRole('button', { name: 'Generate' });

    await panel.getByLabel('Prompt').fill('What is the capital of France?');
    await panel.getByLabel('Temperature', { exact: true }).fill('0');
    await panel.getByLabel('Top-p', { exact: true }).fill('1');
    await panel.getByLabel('Max new tokens', { exact: true }).fill('8');
    // Viewport screenshots until the end: after a full-page one, headless Chromium hit-tests a
    // click at the button's new position against the old layout (the click lands on the section).
    await panel.scrollIntoViewIfNeeded();
    await shot('try-it-ready', false);

    // Before any run: the base model alone.
    await generate.click();
    await expect(endedLine(base)).toHaveText(/^\d+ tokens? · (end of turn|max new tokens)/, { timeout: 120_000 });
    await expect(endedLine(adapter)).toContainText('No adapter');
    const baseBefore = (await base.textContent()) ?? '';
    await shot('base-only', false);

    // A short run.
    await page.getByLabel('Max steps', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Start training' }).click();
    const status = page.getByRole('region', { name: 'Train' }).getByRole('status');
    await expect(status).toHaveText(/^Step 5 of 5 · loss \d+\.\d{3}$/, { timeout: 8 * 60_000 });
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 60_000 });
    await shot('trained', false);

    // Side by side, greedy, at most 8 tokens each; tokens stream into both outputs.
    await expect(generate).toBeEnabled();
    await generate.click();
    await expect(endedLine(base)).toHaveText(/^\d+ tokens? · (end of turn|max new tokens)/, { timeout: 180_000 });
    await expect(endedLine(adapter)).toHaveText(/^\d+ tokens? · (end of turn|max new tokens)/, { timeout: 180_000 });
    await panel.scrollIntoViewIfNeeded();
    await shot('side-by-side', false);

    const baseText = (await base.textContent()) ?? '';
    const adapterText = (await adapter.textContent()) ?? '';
    testInfo.annotations.push({ type: 'outputs', description: JSON.stringify({ baseBefore, base: baseText, adapter: adapterText }) });
    console.log('try it', JSON.stringify({ baseBefore, base: baseText, adapter: adapterText, meta: [await endedLine(base).textContent(), await endedLine(adapter).textContent()] }));
    await shot('side-by-side-page');
    expect(baseText.trim().length, 'base model output').toBeGreaterThan(0);
    expect(adapterText.trim().length, 'adapter output').toBeGreaterThan(0);
    // Greedy decoding is deterministic: the base model says the same thing as before training.
    expect(baseText).toBe(baseBefore);
    for (const line of [endedLine(base), endedLine(adapter)]) {
      const n = Number(/^(\d+)/.exec((await line.textContent()) ?? '')?.[1]);
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(8);
    }
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
