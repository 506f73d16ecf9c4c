// "Start from an adapter": a PEFT adapter (written here with per-module ranks and alphas, B nonzero)
// is read by the worker against the demo model, its settings take over the LoRA fields, a run
// continues it, and the downloaded adapter keeps its patterns and starts from its weights; the
// studio's own .zip of it, and a deflated .zip with the files in a folder, continue it in turn.
// Adapters that do not fit are refused by name and leave the fresh-adapter settings as they were.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { initLoraTensors, writeAdapter } from '../src/engine/lora/adapter';
import type { LoraSettings } from '../src/engine/lora/config';
import { parseModelConfig } from '../src/engine/model/config';
import { parseSafetensors } from '../src/io/safetensors';
import { zipSync } from 'fflate';
import { collectLogs, openStudio, shooter, useDemo } from './helpers';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures/reference');

test('a PEFT adapter with rank and alpha patterns is continued, and refused adapters are named', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    // The adapter, written as PEFT would for the demo model's shapes.
    const spec = parseModelConfig(JSON.parse(readFileSync('public/demo/config.json', 'utf8')));
    const settings: LoraSettings = {
      r: 4,
      alpha: 8,
      dropout: 0,
      targetModules: ['q_proj', 'v_proj'],
      useRslora: false,
      rankPattern: { v_proj: 2 },
      alphaPattern: { 'model.layers.1.self_attn.q_proj': 16 },
    };
    const start = initLoraTensors(spec, settings, 11);
    let k = 1;
    for (const [key, t] of start) if (key.endsWith('lora_B.weight')) t.data.forEach((_, i) => (t.data[i] = Math.sin(k++) * 0.05));
    const files = writeAdapter(spec, settings, start, null);
    const dir = testInfo.outputPath('my-adapter');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'adapter_config.json'), files.config);
    writeFileSync(join(dir, 'adapter_model.safetensors'), files.safetensors);

    await openStudio(page);
    await useDemo(page);
    const input = page.getByLabel('Start from an adapter (optional)');

    // One file only; then an adapter for another model (head_dim 32): named, nothing changes.
    await input.setInputFiles(join(dir, 'adapter_config.json'));
    await expect(page.getByRole('alert')).toContainText('Could not use the adapter: Choose both files of a PEFT adapter (or its .zip): adapter_model.safetensors is missing');
    // A .zip without them (deflated, as an OS's "compress" writes it)
    const notAdapter = testInfo.outputPath('notes.zip');
    writeFileSync(notAdapter, zipSync({ 'notes/README.md': new TextEncoder().encode('# not an adapter') }, { level: 6 }));
    await input.setInputFiles(notAdapter);
    await expect(page.getByRole('alert')).toContainText('notes.zip holds no adapter_config.json and adapter_model.safetensors');
    const qwen3 = join(FIXTURES, 'tiny-qwen3', 'adapter_init');
    await input.setInputFiles([join(qwen3, 'adapter_config.json'), join(qwen3, 'adapter_model.safetensors')]);
    await expect(page.getByRole('alert')).toContainText(/adapter_model.safetensors: tensor "base_model.model.model.layers.0.self_attn.\w+_proj.lora_\w.weight" has shape/);
    await expect(page.getByLabel('LoRA rank', { exact: true })).toBeEnabled();
    await shot('refused');

    await input.setInputFiles([join(dir, 'adapter_config.json'), join(dir, 'adapter_model.safetensors')]);
    const chosen = page.getByLabel('Start adapter');
    await expect(chosen).toContainText('r 4; alpha 8; q_proj, v_proj; rank_pattern {"v_proj":2}; alpha_pattern {"model.layers.1.self_attn.q_proj":16}');
    // per layer: q_proj A (4, 64) + B (64, 4); v_proj A (2, 64) + B (32, 2)
    await expect(chosen).toContainText(`${(2 * (4 * 64 + 64 * 4) + 2 * (2 * 64 + 32 * 2)).toLocaleString('en-US')} parameters in 8 tensors`);
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(page.getByLabel('LoRA rank', { exact: true })).toHaveValue('4');
    await expect(page.getByLabel('LoRA rank', { exact: true })).toBeDisabled();
    await expect(page.getByRole('checkbox', { name: 'q_proj' })).toBeChecked();
    await expect(page.getByRole('checkbox', { name: 'k_proj' })).not.toBeChecked();
    await expect(page.getByRole('checkbox', { name: 'k_proj' })).toBeDisabled();
    await shot('chosen');

    // A few small steps: the trained adapter stays near the one it started from.
    await page.getByLabel('Max steps', { exact: true }).fill('3');
    await page.getByLabel('Learning rate', { exact: true }).fill('0.0001');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });
    const [configDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download config' }).click()]);
    const config = JSON.parse(readFileSync(await configDl.path(), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], rank_pattern: { v_proj: 2 }, alpha_pattern: { 'model.layers.1.self_attn.q_proj': 16 } });
    const [adapterDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download adapter' }).click()]);
    const trained = parseSafetensors('adapter_model.safetensors', new Uint8Array(readFileSync(await adapterDl.path())));
    expect(trained.names().sort()).toEqual([...start.keys()].sort());
    for (const [key, t] of start) {
      expect(trained.index.tensors.get(key)!.shape, key).toEqual(t.shape);
      const got = trained.f32(key);
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < got.length; i++) {
        diff += (got[i] - t.data[i]) ** 2;
        norm += t.data[i] ** 2;
      }
      const rel = Math.sqrt(diff / norm);
      expect(rel, key).toBeGreaterThan(0);
      expect(rel, key).toBeLessThan(0.05); // a fresh start (B = 0) would be 1 away
    }
    await shot('trained');

    // The studio's own .zip of the trained adapter continues it in turn (the round trip users make).
    const [zipDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download .zip' }).click()]);
    const zipPath = testInfo.outputPath('lora-adapter.zip');
    await zipDl.saveAs(zipPath);
    await page.getByRole('button', { name: 'Start fresh instead' }).click();
    await page.getByLabel('Start from an adapter (optional)').setInputFiles(zipPath);
    await expect(page.getByLabel('Start adapter')).toContainText('Continues lora-adapter: r 4; alpha 8; q_proj, v_proj; rank_pattern {"v_proj":2}');
    // and so does a deflated .zip holding the adapter in a folder
    const deflated = testInfo.outputPath('deflated.zip');
    writeFileSync(deflated, zipSync({ 'my-adapter/adapter_config.json': new TextEncoder().encode(files.config), 'my-adapter/adapter_model.safetensors': files.safetensors }, { level: 6 }));
    await page.getByRole('button', { name: 'Start fresh instead' }).click();
    await page.getByLabel('Start from an adapter (optional)').setInputFiles(deflated);
    await expect(page.getByLabel('Start adapter')).toContainText('Continues deflated: r 4; alpha 8');

    // Start fresh again: the LoRA fields are the user's once more.
    await page.getByRole('button', { name: 'Start fresh instead' }).click();
    await expect(page.getByLabel('LoRA rank', { exact: true })).toBeEnabled();
    await expect(page.getByLabel('Start from an adapter (optional)')).toBeVisible();
  } finally {
    if (logs.length) testInfo.attach('console', { body: logs.join('\n'), contentType: 'text/plain' }).catch(() => undefined);
  }
});
