// "Continue on a cluster": after a run, the Export panel downloads the run's job as a recipe .zip
// (train.py, recipe.json, configs, the run's data rows and initial adapter), read back here with an
// independent zip reader.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, openStudio, useDemo } from './helpers';

test('Continue on a cluster downloads the run as a recipe folder in a .zip', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  try {
    await openStudio(page);
    await useDemo(page);
    await expect(page.getByRole('button', { name: 'Continue on a cluster' })).toBeDisabled();
    await page.getByLabel('Max steps', { exact: true }).fill('3');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });

    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Continue on a cluster' }).click()]);
    expect(dl.suggestedFilename()).toBe('lora-studio-cluster-job.zip');
    const path = testInfo.outputPath('job.zip');
    await dl.saveAs(path);
    const zip = readZip(new Uint8Array(readFileSync(path)));
    const file = (name: string) => {
      const e = zip.entries.find((x) => x.name === `lora-studio-cluster-job/${name}`);
      expect(e, name).toBeDefined();
      return new TextDecoder().decode(e!.data);
    };
    const recipe = JSON.parse(file('recipe.json'));
    expect(recipe.trainer.max_steps).toBe(3);
    expect(file('train.py')).toContain('class StudioTrainer(Trainer)');
    expect(parse(file('accelerate.yaml')).distributed_type).toBe('MULTI_GPU');
    expect(parse(file('axolotl.yaml')).max_steps).toBe(3);
    const rows = file('data/train.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { step: number; labels: number[] });
    expect([...new Set(rows.map((r) => r.step))]).toEqual([0, 1, 2]);
    expect(rows.some((r) => r.labels.some((y) => y !== -100))).toBe(true);
    expect(JSON.parse(file('adapter_init/adapter_config.json')).peft_type).toBe('LORA');
    expect(file('README.md')).toContain('| train.lr |');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
