// The dataset panel's options in the studio: counts, the token-length histogram, the
// token view with trained / masked / cut tokens, Train on all tokens, Truncate at (= Max length),
// format override with a column mapping (and a run on it), text-file mode, the validation split
// (a fraction, or a second file); and the GPU-too-small message with its numbers.
import { expect, test, type Page } from '@playwright/test';
import { syntheticModel } from '../src/hub/synthetic-testing';
import { collectLogs, interruptRunByReload, openStudio, pickSyntheticModel, shooter, useDemo } from './helpers';

const chat = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
const file = (name: string, text: string) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(text) });

const tokens = (page: Page, kind: string) => page.getByTestId('token-view').locator(`.tok.${kind}`);

test('dataset options: counts, histogram, token view, train on all, truncation, mapping, text mode, validation', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    await useDemo(page);
    const summary = page.getByTestId('dataset-summary');
    const counts = page.getByTestId('dataset-counts');

    // Counts, histogram, token view of the sample (assistant turns trained, the rest masked).
    await expect(summary).toContainText('50 examples');
    await expect(counts).toContainText('Examples50');
    await expect(page.getByTestId('dataset-skipped')).toHaveText('0');
    await expect(page.getByTestId('dataset-truncated')).toHaveText('0 at 128 tokens');
    await expect(page.getByTestId('length-histogram').getByRole('img')).toHaveAttribute('aria-label', /^Token lengths of 50 examples/);
    expect(await tokens(page, 'trained').count()).toBeGreaterThan(0);
    expect(await tokens(page, 'masked').count()).toBeGreaterThan(0);
    await expect(page.getByTestId('token-example-info')).toContainText('line 1 · ');
    await page.getByRole('button', { name: 'Next example' }).click();
    await expect(page.getByTestId('token-example-info')).toContainText('line 2 · ');
    await shot('sample');

    // Truncate at 16 tokens: the same setting as Max length; counts and the token view follow.
    await page.getByLabel('Truncate at (tokens)', { exact: true }).fill('16');
    await expect(page.getByLabel('Max length', { exact: true })).toHaveValue('16');
    await expect(page.getByTestId('dataset-truncated')).toHaveText(/^50 at 16 tokens/);
    expect(await tokens(page, 'cut').count()).toBeGreaterThan(0);
    await shot('truncated');
    await page.getByLabel('Truncate at (tokens)', { exact: true }).fill('128');
    await expect(page.getByTestId('dataset-truncated')).toHaveText('0 at 128 tokens');

    // Train on all tokens: nothing masked any more; back off: masked again.
    const trainedBefore = await tokens(page, 'trained').count();
    await page.getByLabel('Train on all tokens', { exact: true }).check();
    await expect(summary).toContainText('training on all tokens', { timeout: 60_000 });
    await expect(tokens(page, 'masked')).toHaveCount(0);
    expect(await tokens(page, 'trained').count()).toBeGreaterThan(trainedBefore);
    await shot('train-on-all');
    await page.getByLabel('Train on all tokens', { exact: true }).uncheck();
    await expect(summary).not.toContainText('training on all tokens', { timeout: 60_000 });
    expect(await tokens(page, 'masked').count()).toBeGreaterThan(0);

    // Validation: a fraction sets Settings › Validation examples; a second file is read and counted.
    await page.getByRole('radio', { name: 'Hold out a fraction' }).check();
    await page.getByLabel('Validation fraction', { exact: true }).fill('0.2');
    await expect(page.getByLabel('Validation examples', { exact: true })).toHaveValue('10');
    await expect(page.getByTestId('dataset-validation')).toHaveText('10 examples held out');
    await page.getByRole('radio', { name: 'Use a second file' }).check();
    await expect(page.getByLabel('Validation examples', { exact: true })).toHaveValue('0');
    const val = [chat('Held out one?', 'Yes, one.'), chat('Held out two?', 'Yes, two.'), chat('Held out three?', 'Yes, three.')].join('\n');
    await page.getByLabel('Validation file', { exact: true }).setInputFiles(file('val.jsonl', val));
    await expect(page.getByTestId('validation-file-summary')).toContainText('val.jsonl: 3 examples', { timeout: 60_000 });
    await expect(page.getByTestId('dataset-validation')).toHaveText('3 examples in val.jsonl');
    await expect(summary).toContainText('50 examples');
    // A bad validation file is refused by its own name, with its line numbers.
    await page.getByLabel('Validation file', { exact: true }).setInputFiles(file('val-bad.jsonl', `${chat('a', 'b')}\n{"messages": [\n`));
    const alert = page.getByRole('alert', { name: 'Bad dataset lines' });
    await expect(alert).toContainText('val-bad.jsonl was refused: 1 bad line (2)', { timeout: 60_000 });
    await shot('validation-file-refused');
    await page.getByRole('radio', { name: 'None' }).check();
    await expect(summary).toContainText('50 examples', { timeout: 60_000 });
    await expect(page.getByTestId('dataset-validation')).toHaveText('none');

    // A CSV with its own column names: refused as is, read with a format and a column mapping.
    const csv = 'question,answer\nWhat is 1 plus 1?,Two.\nWhat is 2 plus 2?,Four.\nWhat is 3 plus 3?,Six.\nWhat is 4 plus 4?,Eight.\n';
    await page.getByLabel('Dataset file', { exact: true }).setInputFiles(file('qa.csv', csv));
    await expect(page.getByRole('alert', { name: 'Bad dataset lines' })).toContainText('qa.csv was refused: 4 bad lines (2, 3, 4, 5)', { timeout: 60_000 });
    await page.getByLabel('Format', { exact: true }).selectOption('completion');
    await page.getByLabel('Column mapping', { exact: true }).fill('prompt=question, completion=answer');
    await page.getByLabel('Column mapping', { exact: true }).press('Enter');
    await expect(summary).toContainText('qa.csv · prompt and completion · 4 examples', { timeout: 60_000 });
    await expect(page.getByTestId('token-example-info')).toContainText('line 2 · ');
    expect(await tokens(page, 'masked').count(), 'the prompt is masked').toBeGreaterThan(0);
    expect(await tokens(page, 'trained').count(), 'the completion is trained').toBeGreaterThan(0);
    await shot('csv-mapped');

    // The mapped dataset trains (the options reach the engine worker with the file).
    await page.getByLabel('Max steps', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 5 * 60_000 });
    await expect(page.getByTestId('train-status')).toHaveText(/^Step 2 of 2 · loss \d+\.\d{3}$/);

    // A bad mapping is a clear message.
    await page.getByLabel('Column mapping', { exact: true }).fill('answer');
    await page.getByLabel('Column mapping', { exact: true }).press('Enter');
    await expect(page.getByRole('alert').filter({ hasText: 'Column mapping' })).toContainText('expected field=column', { timeout: 60_000 });
    await page.getByLabel('Column mapping', { exact: true }).fill('');
    await page.getByLabel('Column mapping', { exact: true }).press('Enter');
    await page.getByLabel('Format', { exact: true }).selectOption('auto');

    // A text file: one example per line, or per paragraph.
    await page.getByLabel('Dataset file', { exact: true }).setInputFiles(file('notes.txt', 'The first line.\nThe second line.\n\nA new paragraph.\n'));
    await expect(summary).toContainText('notes.txt · plain text · 3 examples', { timeout: 60_000 });
    await page.getByLabel('Text file mode', { exact: true }).selectOption('paragraph');
    await expect(summary).toContainText('notes.txt · plain text · 2 examples', { timeout: 60_000 });
    await shot('text-paragraphs');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});

test('a run interrupted by a reload resumes with the same dataset options', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    await useDemo(page);
    await page.getByLabel('Train on all tokens', { exact: true }).check();
    const summary = page.getByTestId('dataset-summary');
    await expect(summary).toContainText('training on all tokens', { timeout: 60_000 });
    const status = await interruptRunByReload(page, 12, 2, 4);

    // The run's stored dataset carries its options: the page shows them again and trains on them.
    await expect(page.getByTestId('model-summary')).toContainText('random weights', { timeout: 120_000 });
    await expect(summary).toContainText('training on all tokens', { timeout: 120_000 });
    await expect(page.getByLabel('Train on all tokens', { exact: true })).toBeChecked();
    await expect(page.getByTestId('token-view').locator('.tok.masked')).toHaveCount(0);
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 5 * 60_000 });
    await expect(status).toHaveText(/^Step 12 of 12 · /);
    await shot('resumed-with-options');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});

test('a run that cannot fit the GPU adapter: the numbers and what would work', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    // A small model with a wide MLP: each (tokens, intermediate) activation of batch 256 × 512
    // tokens × 8192 × 4 B = 4 GiB. (The logits never limit a run: the head runs in chunks.)
    const m = syntheticModel({ layers: 1, hidden: 64, heads: 4, intermediate: 8192, vocab: 8192, dtype: 'F32', tie: true, seed: 5 });
    await pickSyntheticModel(page, m);

    // Long examples, so that sequences really are Max length (512) tokens.
    const words = 'the quick brown fox jumps over the lazy dog and keeps running far away ';
    const text = Array.from({ length: 8 }, () => words.repeat(40)).join('\n');
    await page.getByLabel('Dataset file', { exact: true }).setInputFiles(file('long.txt', text));
    await expect(page.getByTestId('dataset-summary')).toContainText('long.txt', { timeout: 120_000 });
    await page.getByLabel('Max length', { exact: true }).fill('512');
    await page.getByLabel('Batch size', { exact: true }).fill('256');

    const notice = page.getByRole('alert', { name: 'GPU too small' });
    await expect(notice).toBeVisible();
    await expect(notice).toContainText('This GPU adapter is too small for this run');
    await expect(notice).toContainText('(maxStorageBufferBindingSize)');
    await expect(notice).toContainText('(maxBufferSize)');
    await expect(notice).toContainText('At batch size 256 and 512 tokens per sequence');
    await expect(notice).toContainText('the per-token activation (N, I) needs 4.0 GiB');
    const suggestions = page.getByTestId('gpu-fit-suggestions');
    await expect(suggestions).toContainText(/Max length \d+ or less \(at batch size 256\)/);
    await expect(suggestions).toContainText(/Batch size \d+ or less \(at max length 512\)/);
    await page.getByRole('region', { name: 'Settings' }).scrollIntoViewIfNeeded();
    await shot('gpu-too-small');

    // What it says would work, works: the message goes away.
    const max = Number(/Batch size (\d+) or less/.exec((await suggestions.textContent()) ?? '')?.[1]);
    await page.getByLabel('Batch size', { exact: true }).fill(String(max));
    await expect(notice).toHaveCount(0);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
