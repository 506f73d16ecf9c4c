// Preference tuning on the page: a file of chosen / rejected pairs is detected and previewed side by
// side, SFT is refused for it, DPO trains 3 steps on the demo model with TRL's reward metrics on the
// chart (and on the held-out pair), and the adapter .zip's card names the method and beta. A file
// with a malformed pair is refused with its line named. The GPU device is lost after step 2 (the
// page's test hook): the run continues from its last checkpoint on a new device, as an SFT run
// does. Kept short: SwiftShader is slow.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, downloadAs, openStudio, shooter, useDemo } from './helpers';

const pair = (i: number) => JSON.stringify({ prompt: `What is ${i} plus ${i}?`, chosen: ` ${2 * i}.`, rejected: ` ${2 * i + 1}, maybe.` });
const PAIRS = Array.from({ length: 6 }, (_, i) => pair(i + 1)).join('\n');
// Line 2: identical completions; line 3: no rejected side.
const BAD_PAIRS = [pair(1), JSON.stringify({ prompt: 'Q?', chosen: ' A.', rejected: ' A.' }), JSON.stringify({ prompt: 'Q?', chosen: ' A.' }), pair(2)].join('\n');

test('preference pairs: detected, previewed, DPO trains with reward metrics, the card names dpo and beta; a bad pair is named', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page, '/?test-lose-device-at=2');
    await useDemo(page);
    const file = page.getByLabel('Dataset file', { exact: true });

    // A malformed pair: refused, each bad line named with its field.
    await file.setInputFiles({ name: 'bad-pairs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(BAD_PAIRS) });
    const alert = page.getByRole('alert', { name: 'Bad dataset lines' });
    await expect(alert).toBeVisible({ timeout: 60_000 });
    await expect(alert).toContainText('bad-pairs.jsonl was refused: 2 bad lines (2, 3)');
    await expect(alert.getByText(/^Line 2: .*'chosen' and 'rejected' are identical/)).toBeVisible();
    await expect(alert.getByText(/^Line 3: missing field 'rejected'/)).toBeVisible();
    await shot('bad-pair');

    // A good file: named as preference data, previewed as prompt | chosen | rejected.
    await file.setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(PAIRS) });
    const summary = page.getByTestId('dataset-summary');
    await expect(summary).toContainText('pairs.jsonl', { timeout: 60_000 });
    await expect(summary).toContainText('6 pairs');
    await expect(page.getByTestId('dataset-preference')).toContainText('Preference data (standard pairs: prompt, chosen, rejected): it can train DPO, IPO, ORPO');
    await expect(page.getByTestId('pair-prompt')).toContainText('What is 1 plus 1?');
    await expect(page.getByTestId('pair-chosen')).toContainText('2.');
    await expect(page.getByTestId('pair-rejected')).toContainText('maybe');
    await expect(page.getByTestId('pair-info')).toContainText('line 1');
    // SFT (the default) cannot train pairs: said in the panel, and the run is refused before it starts.
    await expect(page.getByTestId('dataset-method-mismatch')).toContainText('choose DPO, IPO or ORPO');
    await page.getByLabel('Max steps', { exact: true }).fill('3');
    await page.getByLabel('Max length', { exact: true }).fill('32');
    await page.getByLabel('Batch size', { exact: true }).fill('2');
    await page.getByLabel('Validation examples', { exact: true }).fill('1');
    await page.getByLabel('Checkpoint every', { exact: true }).fill('1');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByRole('alert', { name: 'Settings errors' })).toContainText('SFT trains on examples, and this dataset is preference data');
    await expect(page.getByTestId('train-status')).toHaveText('');

    // DPO: Beta and Max prompt length appear; 3 steps; the reward metrics on the chart.
    await expect(page.getByLabel('Beta', { exact: true })).toHaveCount(0);
    await page.getByRole('radio', { name: /^DPO / }).check();
    await expect(page.getByTestId('dataset-method-mismatch')).toHaveCount(0);
    await page.getByLabel('Beta', { exact: true }).fill('0.2');
    await page.getByLabel('Max prompt length', { exact: true }).fill('16');
    await shot('dpo-settings');
    await page.getByRole('button', { name: 'Start training' }).click();
    const status = page.getByTestId('train-status');
    await expect(status).toHaveText(/^Step 3 of 3 · loss \d+\.\d{3}$/, { timeout: 8 * 60_000 });
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 120_000 });
    // The device goes with step 2's event, before (or while) that step's checkpoint is written.
    await expect(page.getByRole('region', { name: 'Train' }).getByRole('note')).toContainText(/the run continues on a new device from its checkpoint at step [12]\./);
    const metrics = page.getByTestId('preference-metrics');
    for (const name of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies']) {
      // The last step's value and the held-out pair's.
      await expect(metrics.getByRole('row', { name: new RegExp(`^${name} -?\\d+\\.\\d{4} -?\\d+\\.\\d{4}$`) })).toBeVisible();
    }
    await expect(page.locator('.preference-metrics .u-legend')).toContainText('rewards/margins');
    await shot('trained');

    // The adapter .zip: the PEFT pair and a card naming the method and beta.
    const zipPath = await downloadAs(page, page.getByRole('button', { name: 'Download .zip' }), 'lora-adapter.zip', testInfo);
    const zip = readZip(new Uint8Array(readFileSync(zipPath)));
    const names = zip.entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['adapter_model.safetensors', 'adapter_config.json', 'README.md']));
    const text = (name: string) => new TextDecoder().decode(zip.entries.find((e) => e.name === name)!.data);
    expect(JSON.parse(text('adapter_config.json'))).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM' });
    const card = text('README.md');
    expect(card).toContain('  - dpo\n');
    expect(card).toContain('- Method: DPO (preference pairs), beta 0.2; reference: the base model without any adapter');
    expect(card).toContain('- Max prompt length: 16 tokens');
    expect(card).toContain('- Size: 6 pairs');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
