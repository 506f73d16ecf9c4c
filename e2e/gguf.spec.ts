// GGUF export from the page: the demo model trained 5 steps, both GGUF downloads, and the merged
// F32 file loaded by @wllama/wllama (llama.cpp in WebAssembly, its wasm served from node_modules)
// in this Chromium, which continues the "Try it" prompt greedily with the same tokens as the
// studio's own "With adapter" output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Locator } from '@playwright/test';
import { gguf } from '@huggingface/gguf';
import { readZip } from '../src/util/testing/read-zip';
import { ModelTokenizer } from '../src/data/tokenizer';
import { collectLogs, openStudio, useDemo } from './helpers';

const endedLine = (output: Locator): Locator => output.locator('xpath=..').locator('.tryit-meta');
const wllamaDir = join(process.cwd(), 'node_modules/@wllama/wllama/esm'); // playwright runs in the repository root

test('GGUF: both downloads after 5 steps; wllama continues the prompt like "Try it"', async ({ page, context }, testInfo) => {
  const logs = collectLogs(page);
  try {
    await openStudio(page);
    await useDemo(page);
    await page.getByLabel('Max steps', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 8 * 60_000 });

    // "Try it", greedy, 8 tokens at most.
    const prompt = 'What is the capital of France?';
    const panel = page.getByRole('region', { name: 'Try it' });
    await panel.getByLabel('Prompt').fill(prompt);
    await panel.getByLabel('Temperature', { exact: true }).fill('0');
    await panel.getByLabel('Top-p', { exact: true }).fill('1');
    await panel.getByLabel('Max new tokens', { exact: true }).fill('8');
    await panel.getByRole('button', { name: 'Generate' }).click();
    const adapterOut = panel.getByLabel('With adapter');
    await expect(endedLine(adapterOut)).toHaveText(/^\d+ tokens? · (end of turn|max new tokens)/, { timeout: 180_000 });
    const tryIt = (await adapterOut.textContent()) ?? '';

    // Both downloads.
    await page.getByLabel('GGUF type').selectOption('f32');
    const save = async (button: string): Promise<Map<string, Uint8Array>> => {
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 180_000 }), page.getByRole('button', { name: button }).click()]);
      const path = testInfo.outputPath(dl.suggestedFilename());
      await dl.saveAs(path);
      return new Map(readZip(new Uint8Array(readFileSync(path))).entries.map((e) => [e.name, e.data]));
    };
    const merged = await save('Download GGUF (merged)');
    expect([...merged.keys()]).toEqual(['model-f32.gguf', 'Modelfile', 'README.md']);
    const adapter = await save('Download GGUF adapter');
    expect([...adapter.keys()]).toEqual(['adapter-f32.gguf', 'Modelfile', 'README.md']);
    expect(new TextDecoder().decode(adapter.get('Modelfile'))).toContain('ADAPTER ./adapter-f32.gguf');

    // The adapter file is what llama.cpp's --lora takes (read back with @huggingface/gguf).
    const adapterPath = testInfo.outputPath('adapter-f32.gguf');
    (await import('node:fs')).writeFileSync(adapterPath, adapter.get('adapter-f32.gguf')!);
    const meta = (await gguf(adapterPath, { allowLocalFile: true })).metadata as unknown as Record<string, unknown>;
    expect(meta['general.type']).toBe('adapter');
    expect(meta['adapter.type']).toBe('lora');

    // wllama in a page of its own (the studio's CSP is not wllama's business), on the same origin.
    const origin = new URL(page.url()).origin;
    const files: Record<string, { body: Buffer | string; type: string }> = {
      'index.js': { body: readFileSync(join(wllamaDir, 'index.js')), type: 'text/javascript' },
      'wllama.wasm': { body: readFileSync(join(wllamaDir, 'wasm/wllama.wasm')), type: 'application/wasm' },
      'model.gguf': { body: Buffer.from(merged.get('model-f32.gguf')!), type: 'application/octet-stream' },
      'index.html': { body: '<!doctype html><title>wllama</title>', type: 'text/html' },
    };
    const wpage = await context.newPage();
    const wlogs = collectLogs(wpage);
    await wpage.route(`${origin}/__wllama/**`, (route) => {
      const f = files[new URL(route.request().url()).pathname.replace('/__wllama/', '')];
      return f ? route.fulfill({ body: f.body, contentType: f.type }) : route.fulfill({ status: 404 });
    });
    await wpage.goto(`${origin}/__wllama/index.html`);
    const out = await wpage.evaluate(async (userPrompt) => {
      const { Wllama } = (await import(`${location.origin}/__wllama/index.js`)) as typeof import('@wllama/wllama');
      const w = new Wllama({ default: `${location.origin}/__wllama/wllama.wasm` });
      const blob = await (await fetch(`${location.origin}/__wllama/model.gguf`)).blob();
      await w.loadModel([blob], { n_ctx: 128, n_threads: 1 });
      const res = await w.createChatCompletion({ messages: [{ role: 'user', content: userPrompt }], max_tokens: 8, temperature: 0 });
      return { text: res.choices[0].message.content ?? '', usage: res.usage };
    }, prompt);
    console.log('gguf e2e', JSON.stringify({ tryIt, wllama: out }));
    if (wlogs.length) await testInfo.attach('wllama-console.txt', { body: wlogs.join('\n'), contentType: 'text/plain' });
    expect(tryIt.trim().length).toBeGreaterThan(0);
    expect(out.text).toBe(tryIt);
    // llama.cpp rendered the GGUF's chat template and tokenized it into as many tokens as the
    // studio's own prompt ("Try it": the model's template with the generation prompt).
    const demo = (f: string): string => readFileSync(join(process.cwd(), 'public/demo', f), 'utf8');
    const tok = ModelTokenizer.load({ tokenizerJson: JSON.parse(demo('tokenizer.json')), tokenizerConfig: JSON.parse(demo('tokenizer_config.json')) });
    const ids = tok.encode(tok.template.render([{ role: 'user', content: prompt }], true));
    expect(out.usage.prompt_tokens).toBe(ids.length);
  } finally {
    if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });
  }
});
