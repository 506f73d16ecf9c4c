// Workspace layout: on a wide screen the run (loss chart, status line, Pause/Stop) stays in view beside
// whatever panel the user scrolled to, without overlapping it; on a narrow screen one column.
// Checked by bounding boxes, with a screenshot of each state for review.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { collectLogs, openStudio, shooter, useDemo } from './helpers';

type Box = { x: number; y: number; width: number; height: number };

async function box(l: Locator): Promise<Box> {
  const b = await l.boundingBox();
  expect(b, 'element is rendered').not.toBeNull();
  return b!;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

async function expectInViewport(page: Page, l: Locator, what: string): Promise<Box> {
  const b = await box(l);
  const vp = page.viewportSize()!;
  expect(b.y, `${what}: top inside the viewport`).toBeGreaterThanOrEqual(0);
  expect(b.y + b.height, `${what}: bottom inside the viewport`).toBeLessThanOrEqual(vp.height);
  expect(b.x, `${what}: left inside the viewport`).toBeGreaterThanOrEqual(0);
  expect(b.x + b.width, `${what}: right inside the viewport`).toBeLessThanOrEqual(vp.width);
  return b;
}

test('the run stays in view beside Settings and Try it on a wide screen; one column on a narrow one', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await page.setViewportSize({ width: 1440, height: 900 });
    await openStudio(page);
    await useDemo(page);

    const train = page.getByRole('region', { name: 'Train' });
    const status = train.getByRole('status');
    const chart = train.getByRole('figure', { name: 'Training charts' });
    // Tiny steps: this spec is about layout, not training.
    await page.getByLabel('Max steps', { exact: true }).fill('200');
    await page.getByLabel('Batch size', { exact: true }).fill('1');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(status).toHaveText(/^Step [1-9]\d* of 200 · /, { timeout: 300_000 });

    for (const [link, name] of [['Settings', 'Settings'], ['Try it', 'Try it']] as const) {
      await page.getByRole('navigation', { name: 'Steps' }).getByRole('link', { name: link }).click();
      const panel = page.getByRole('region', { name });
      await expect(panel.getByRole('heading', { name })).toBeInViewport();
      const panelBox = await box(panel);
      for (const [l, what] of [
        [chart, 'chart'],
        [status, 'status line'],
        [page.getByRole('button', { name: 'Pause' }), 'Pause'],
        [page.getByRole('button', { name: 'Stop' }), 'Stop'],
      ] as const) {
        const b = await expectInViewport(page, l, `${what} beside ${name}`);
        expect(overlaps(b, panelBox), `${what} does not overlap ${name}`).toBe(false);
      }
      await shot(`wide-${name.replace(' ', '-').toLowerCase()}`, false);
    }

    // The chart redraws in place: its box does not move or grow while steps go by.
    const before = await box(chart);
    const statusBefore = await box(status);
    const stepText = (await status.textContent()) ?? '';
    await expect(status).not.toHaveText(stepText, { timeout: 180_000 });
    expect(await box(chart)).toEqual(before);
    expect(await box(status)).toEqual(statusBefore);

    await page.getByRole('button', { name: 'Stop' }).click();
    await expect(train.getByText('Training stopped.')).toBeVisible({ timeout: 60_000 });

    // Narrow: one column, the Train panel below Settings and above Try it, not beside them.
    await page.setViewportSize({ width: 800, height: 900 });
    const settingsBox = await box(page.getByRole('region', { name: 'Settings' }));
    const trainBox = await box(train);
    const tryBox = await box(page.getByRole('region', { name: 'Try it' }));
    for (const b of [settingsBox, tryBox]) {
      expect(Math.abs(b.x - trainBox.x), 'same left edge').toBeLessThan(1);
      expect(Math.abs(b.width - trainBox.width), 'same width').toBeLessThan(1);
    }
    expect(trainBox.y).toBeGreaterThanOrEqual(settingsBox.y + settingsBox.height);
    expect(tryBox.y).toBeGreaterThanOrEqual(trainBox.y + trainBox.height);
    await train.scrollIntoViewIfNeeded();
    await shot('narrow-one-column', false);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
