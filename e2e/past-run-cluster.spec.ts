// Past runs → "Continue on a cluster": a run paused at its checkpoint (the device-loss test hook,
// ?test-lose-device-at=N&test-no-device) exported on a fresh page as the recipe of its steps left,
// with its AdamW moments beside the adapter (the folder `export --format recipe --from-run` writes).
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { parseSafetensors } from '../src/io/safetensors';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, openStudio, useDemo } from './helpers';

const STEPS = 4;
const EVERY = 2;

test("Past runs continues a run's checkpoint on a cluster: the steps left, its adapter and AdamW moments", async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  try {
    await openStudio(page, `/?test-lose-device-at=${EVERY + 1}&test-no-device`);
    await useDemo(page);
    await page.getByLabel('LoRA dropout', { exact: true }).fill('0');
    await page.getByLabel('Max steps', { exact: true }).fill(String(STEPS));
    await page.getByLabel('Checkpoint every', { exact: true }).fill(String(EVERY));
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByRole('alert')).toContainText(`paused at its checkpoint at step ${EVERY}`, { timeout: 5 * 60_000 });

    await openStudio(page);
    await page.getByText(/^Past runs/).click();
    const run = page.locator('.past-runs tbody tr').first();
    const [dl] = await Promise.all([page.waitForEvent('download'), run.getByRole('button', { name: 'Continue on a cluster' }).click()]);
    const path = testInfo.outputPath('cluster.zip');
    await dl.saveAs(path);
    const files = new Map(readZip(new Uint8Array(readFileSync(path))).entries.map((e) => [e.name.replace(/^[^/]+\//, ''), e.data]));
    const recipe = JSON.parse(new TextDecoder().decode(files.get('recipe.json')));
    expect(recipe.trainer).toMatchObject({ start_step: EVERY, max_steps: STEPS, optimizer_state: 'adapter_init/optimizer.safetensors' });
    const steps = new TextDecoder().decode(files.get('data/train.jsonl')).trim().split('\n').map((l) => JSON.parse(l).step as number);
    expect([...new Set(steps)]).toEqual([2, 3]);
    const adapter = parseSafetensors('adapter', files.get('adapter_init/adapter_model.safetensors')!);
    const opt = parseSafetensors('optimizer', files.get('adapter_init/optimizer.safetensors')!);
    expect(opt.metadata?.step).toBe(String(EVERY));
    expect([...opt.index.tensors.keys()].sort()).toEqual([...adapter.index.tensors.keys()].flatMap((k) => [`${k}.exp_avg`, `${k}.exp_avg_sq`]).sort());
    // Two steps of AdamW: the second moments are positive somewhere (not a fresh zero state).
    expect([...opt.index.tensors.keys()].some((k) => k.endsWith('.exp_avg_sq') && opt.f32(k).some((x) => x > 0))).toBe(true);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
