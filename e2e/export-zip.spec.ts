// "Download .zip": one archive with adapter_model.safetensors, adapter_config.json and a README.md
// model card. Checked with an independent reader (src/util/testing/read-zip.ts: signatures, local
// vs central headers, CRC-32 bit by bit) and `unzip -t` where the machine has unzip; its files are
// byte for byte what "Download adapter" and "Download config" save.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { parse } from 'yaml';
import { parseSafetensors } from '../src/io/safetensors';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, downloadAs, openStudio, parseStatus, recordStatus, shooter, statusTexts, useDemo } from './helpers';

test('the .zip holds the adapter, its config and a model card; the single downloads still work', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await openStudio(page);
    await useDemo(page);
    await expect(page.getByRole('button', { name: 'Download .zip' })).toBeDisabled();

    await page.getByLabel('Max steps', { exact: true }).fill('6');
    // Hold out 8% (4 of the sample's 50 examples) so the card has a validation loss. (Not more
    // than the batch size: the worker evaluates the held-out examples as one batch.)
    await page.getByRole('radio', { name: 'Hold out a fraction' }).check();
    await page.getByLabel('Validation fraction', { exact: true }).fill('0.08');
    await expect(page.getByLabel('Validation examples', { exact: true })).toHaveValue('4');
    await shot('settings');

    await recordStatus(page);
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    const steps = (await statusTexts(page)).map(parseStatus).filter((s) => s !== null);
    expect(steps.at(-1)?.step).toBe(6);
    await shot('trained');

    const zipPath = await downloadAs(page, page.getByRole('button', { name: 'Download .zip' }), 'lora-adapter.zip', testInfo);
    const adapterPath = await downloadAs(page, page.getByRole('button', { name: 'Download adapter' }), 'adapter_model.safetensors', testInfo);
    const configPath = await downloadAs(page, page.getByRole('button', { name: 'Download config' }), 'adapter_config.json', testInfo);
    await shot('downloaded');

    const zip = readZip(new Uint8Array(readFileSync(zipPath)));
    expect(zip.entries.map((e) => e.name)).toEqual(['adapter_model.safetensors', 'adapter_config.json', 'README.md']);
    const file = (name: string) => zip.entries.find((e) => e.name === name)!.data;
    expect(Buffer.compare(Buffer.from(file('adapter_model.safetensors')), readFileSync(adapterPath)), 'zip safetensors = Download adapter').toBe(0);
    expect(Buffer.compare(Buffer.from(file('adapter_config.json')), readFileSync(configPath)), 'zip config = Download config').toBe(0);

    const config = JSON.parse(new TextDecoder().decode(file('adapter_config.json'))) as { peft_type: string; r: number; target_modules: string[] };
    expect(config.peft_type).toBe('LORA');
    const st = parseSafetensors('adapter_model.safetensors', file('adapter_model.safetensors'));
    expect(st.names().length).toBeGreaterThan(0);
    for (const n of st.names()) expect(n).toMatch(/\.lora_[AB]\.weight$/);

    const card = new TextDecoder().decode(file('README.md'));
    testInfo.attach('README.md', { body: card, contentType: 'text/markdown' }).catch(() => undefined);
    expect(card).toContain('library_name: peft');
    expect(card).toContain('# LoRA adapter for Demo model');
    expect(card).toContain('random weights');
    expect(card).toContain(`Rank (r): ${config.r}`);
    expect(card).toContain('Steps: 6 of 6');
    // The file's name and size (KiB, from the file on disk), never its content.
    const sampleKiB = (readFileSync(new URL('../public/demo/sample.jsonl', import.meta.url)).byteLength / 1024).toFixed(1);
    expect(card).toContain(`\`sample.jsonl\` (chat messages, ${sampleKiB} KiB)`);
    expect(card).toMatch(/Size: 50 examples, \d+ tokens \(\d+ trained\)/);
    expect(card).toContain('Validation: 4 examples held out of the data');
    const finalLoss = Number(/Final training loss: (\d+\.\d{4})/.exec(card)?.[1]);
    expect(Math.abs(finalLoss - steps.at(-1)!.loss)).toBeLessThan(0.0006);
    expect(card).toMatch(/Final validation loss: \d+\.\d{4}/);
    expect(card).toContain(new Date().toISOString().slice(0, 10));
    expect(card).toContain('PeftModel.from_pretrained(base, "./adapter")');
    expect(card).toContain('Trained with LoRA Studio.');

    if (spawnSync('which', ['unzip']).status === 0) {
      const t = spawnSync('unzip', ['-t', zipPath], { encoding: 'utf8' });
      expect(t.stdout, t.stderr).toMatch(/No errors detected/);
    }

    // "Continue on a cluster": the same run's job as a recipe folder in a .zip (src/export/recipe).
    const [jobDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Continue on a cluster' }).click()]);
    expect(jobDl.suggestedFilename()).toBe('lora-studio-cluster-job.zip');
    const jobPath = testInfo.outputPath('job.zip');
    await jobDl.saveAs(jobPath);
    const job = readZip(new Uint8Array(readFileSync(jobPath)));
    const jobFile = (name: string) => {
      const e = job.entries.find((x) => x.name === `lora-studio-cluster-job/${name}`);
      expect(e, name).toBeDefined();
      return new TextDecoder().decode(e!.data);
    };
    const recipe = JSON.parse(jobFile('recipe.json'));
    expect([recipe.trainer.max_steps, recipe.lora.r, recipe.data.validation_examples]).toEqual([6, config.r, 4]);
    expect(jobFile('train.py')).toContain('class StudioTrainer(Trainer)');
    expect(parse(jobFile('accelerate.yaml')).distributed_type).toBe('MULTI_GPU');
    expect(parse(jobFile('axolotl.yaml')).max_steps).toBe(6);
    const rows = jobFile('data/train.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { step: number; labels: number[] });
    expect([...new Set(rows.map((r) => r.step))]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rows.some((r) => r.labels.some((y) => y !== -100))).toBe(true);
    expect(jobFile('data/validation.jsonl').trim().split('\n').length).toBe(4);
    expect(JSON.parse(jobFile('adapter_init/adapter_config.json')).peft_type).toBe('LORA');
    expect(jobFile('README.md')).toContain('| train.lr |');
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
