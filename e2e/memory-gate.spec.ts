// "Start training" is gated by the engine's own memory estimate (src/engine/train/memory.ts), not
// by a formula that assumes the full (batch × length × vocabulary) logits: a run whose full logits
// would not fit one storage binding of this adapter, which that formula refused, starts and trains,
// because the engine runs the LM head in chunks. The model is tiny apart from its vocabulary, so
// the one step stays cheap on SwiftShader.
import { expect, test } from '@playwright/test';
import { syntheticModel } from '../src/hub/synthetic-testing';
import { collectLogs, openStudio, pickSyntheticModel, shooter } from './helpers';

const VOCAB = 131_072;
const SEQ = 512;

test('a run whose full logits exceed a storage binding starts: the head runs in chunks', async ({ page }, testInfo) => {
  // One step computes over 2^28 logits: tens of seconds on SwiftShader, minutes on a shared machine.
  test.setTimeout(25 * 60_000);
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    const binding = await page.evaluate(async () => (await navigator.gpu.requestAdapter())!.limits.maxStorageBufferBindingSize);
    // The smallest batch whose (batch × SEQ × VOCAB) f32 logits are over this adapter's binding limit.
    const batch = Math.floor(binding / (SEQ * VOCAB * 4)) + 1;
    expect(batch * SEQ * VOCAB * 4).toBeGreaterThan(binding);

    // Hidden size 8: the LM head's work, batch × SEQ × VOCAB × 8, is all a step costs here.
    const m = syntheticModel({ layers: 1, hidden: 8, heads: 2, kvHeads: 2, intermediate: 16, vocab: VOCAB, dtype: 'F32', tie: true, seed: 9 });
    await pickSyntheticModel(page, m);

    // Examples longer than SEQ tokens, so that every sequence is SEQ tokens.
    const words = 'the quick brown fox jumps over the lazy dog and keeps running far away ';
    const text = Array.from({ length: batch + 2 }, () => words.repeat(40)).join('\n');
    await page.getByLabel('Dataset file', { exact: true }).setInputFiles({ name: 'long.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
    await expect(page.getByTestId('dataset-summary')).toContainText('long.txt', { timeout: 120_000 });
    await page.getByLabel('Max length', { exact: true }).fill(String(SEQ));
    await page.getByLabel('Batch size', { exact: true }).fill(String(batch));
    await page.getByLabel('Max steps', { exact: true }).fill('1');
    await page.getByRole('group', { name: 'Validation split' }).getByRole('radio', { name: 'None' }).check(); // no validation pass after the step

    await expect(page.getByTestId('memory-estimate')).toContainText('Estimated GPU memory');
    await expect(page.getByRole('alert', { name: 'GPU too small' })).toHaveCount(0);
    await shot('fits');
    await page.getByRole('button', { name: 'Start training' }).click();
    // The trainer allocates every buffer of this shape, and the step completes.
    await expect(page.getByTestId('train-status')).toHaveText(/^Step 1 of 1 · loss \d+\.\d{3}$/, { timeout: 20 * 60_000 });
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 60_000 });
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
