// "For the web (ONNX)": after 5 steps on the demo model, the export downloads as a .zip in the
// Transformers.js layout, "Check the export" runs the same prompt greedy through the engine and
// through onnxruntime-web (served by the app, no CDN) and reports agreement, and "Try it" shows
// the exported side's text.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { unzipSync } from 'fflate';
import { collectLogs, openStudio, shooter, useDemo } from './helpers';

test('export for the web: zip layout, the check agrees, Try it runs the export', async ({ page }, testInfo) => {
  // Training, the export, the check and Try it on SwiftShader.
  test.setTimeout(20 * 60_000);
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  const remote: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== 'localhost' && u.protocol.startsWith('http')) remote.push(r.url());
  });
  try {
    // onnxruntime-web's WebGPU backend on SwiftShader is far too slow for a test: its wasm backend
    // runs the export here (?ort=wasm); the page tries WebGPU first otherwise.
    await openStudio(page, '/?ort=wasm');
    await useDemo(page);
    const webExport = page.getByRole('button', { name: 'For the web (ONNX)' });
    await expect(webExport).toBeDisabled();

    await page.getByLabel('Max steps', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });

    const [dl] = await Promise.all([page.waitForEvent('download'), webExport.click()]);
    expect(dl.suggestedFilename()).toBe('lora-model-onnx.zip');
    const zipPath = testInfo.outputPath('lora-model-onnx.zip');
    await dl.saveAs(zipPath);
    await expect(page.getByTestId('onnx-export-done')).toBeVisible();
    // A streamed zip (sizes in data descriptors): read with fflate, and checked by `unzip -t` where the machine has it.
    const entries = unzipSync(new Uint8Array(readFileSync(zipPath)));
    const names = Object.keys(entries).sort();
    expect(names).toEqual(['config.json', 'generation_config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const file = (name: string) => new TextDecoder().decode(entries[name]);
    const config = JSON.parse(file('config.json')) as Record<string, unknown>;
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32' });
    expect(JSON.parse(file('tokenizer_config.json')).chat_template).toEqual(expect.any(String));
    expect(entries['onnx/model.onnx'].byteLength).toBeGreaterThan(100_000);
    if (spawnSync('which', ['unzip']).status === 0) {
      const t = spawnSync('unzip', ['-t', zipPath], { encoding: 'utf8' });
      expect(t.stdout, t.stderr).toMatch(/No errors detected/);
    }
    await shot('exported');

    const panel = page.getByRole('region', { name: 'Try it' });
    await panel.getByLabel('Prompt').fill('What is the capital of France?');
    await page.getByRole('button', { name: 'Check the export' }).click();
    const check = page.getByTestId('onnx-check');
    await expect(check).toBeVisible({ timeout: 5 * 60_000 });
    const checkText = (await check.textContent()) ?? '';
    console.log('check', checkText);
    expect(checkText).toMatch(/^The export agrees: the same \d+ greedy tokens in the engine and in onnxruntime-web \(wasm\)\./);
    const diff = Number(/Largest logit difference over the prompt \(\d+ tokens\): (\S+)\.$/.exec(checkText)?.[1]);
    expect(diff).toBeLessThanOrEqual(2e-3);
    await shot('checked');

    await panel.getByLabel('Temperature', { exact: true }).fill('0');
    await panel.getByLabel('Top-p', { exact: true }).fill('1');
    await panel.getByLabel('Max new tokens', { exact: true }).fill('8');
    await panel.getByRole('button', { name: 'Generate' }).click();
    const onnxSide = panel.getByLabel('Exported for the web (onnxruntime-web)');
    const meta = onnxSide.locator('xpath=..').locator('.tryit-meta');
    await expect(meta).toHaveText(/^\d+ tokens? · (end of turn|max new tokens)/, { timeout: 5 * 60_000 });
    const adapterText = (await panel.getByLabel('With adapter').textContent()) ?? '';
    const onnxText = (await onnxSide.textContent()) ?? '';
    console.log('try it', JSON.stringify({ adapter: adapterText, onnx: onnxText }));
    expect(onnxText.trim().length).toBeGreaterThan(0);
    // Greedy: the export says what the adapter says.
    expect(onnxText).toBe(adapterText);
    await shot('try-it');
    expect(remote, 'no request leaves the machine').toEqual([]);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
