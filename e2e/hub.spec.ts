// Hub search and "Push to the Hub" (issue 18) against the stand-in Hub (src/hub/stand-in-server-testing.ts
// + stand-in-api-testing.ts), which answers the HTTP calls @huggingface/hub makes to huggingface.co:
// GET /api/models, /api/whoami-v2, POST /api/repos/create, preupload, the LFS batch, the LFS PUT
// and the ndjson commit.
// - Search: typing in the model field lists the trainable matches (a GPT-2 is hidden and named),
//   marks a 405B Llama as not fitting this GPU (the one memory estimate), loads the chosen one;
//   with the Hub gone, the page says so and the library answers alone.
// - Push: a 401 is named; a connection dropped at the commit is named; Retry completes without
//   sending the adapter again; the stand-in holds the three files byte for byte, the GGUF adapter
//   folder built on the page under gguf-adapter/ and the web (ONNX) export under onnx-fp32/, and
//   the pushed card names both folders and the Transformers.js lines for the ONNX one.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import { startStandInHub, type StandInHub } from '../src/hub/stand-in-server-testing';
import { readZip } from '../src/util/testing/read-zip';
import { collectLogs, shooter, STAND_IN_HUB_PORT } from './helpers';

const STAND_IN = `http://127.0.0.1:${STAND_IN_HUB_PORT}`;
const demoDir = new URL('../public/demo/', import.meta.url);
const demoFiles = (): Map<string, Uint8Array | string> =>
  new Map<string, Uint8Array | string>(
    ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(new URL(f, demoDir)))]),
  );

// Llama 3.1 405B's shape: its f32 embedding alone (128256 × 16384 × 4 bytes, 8.4 GB) is larger
// than any buffer WebGPU lets a page allocate.
const HUGE_CONFIG = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 16384,
  intermediate_size: 53248,
  num_hidden_layers: 126,
  num_attention_heads: 128,
  num_key_value_heads: 8,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  tie_word_embeddings: false,
});

const TOKEN = 'hf_pushSpecToken42';

async function openStudio(page: Page, query = ''): Promise<void> {
  await page.goto(`/?hub=${encodeURIComponent(STAND_IN)}${query}`);
  await expect(page.getByRole('heading', { name: 'LoRA Studio' })).toBeVisible();
  await expect(page.getByText(/GPU: /)).toBeVisible({ timeout: 60_000 });
}

test.describe('Hub search and push', () => {
  let hub: StandInHub;
  test.beforeEach(async () => {
    hub = await startStandInHub({
      port: STAND_IN_HUB_PORT,
      models: { 'stand-in/tiny-llama': { files: demoFiles() }, 'stand-in/huge-llama': { files: new Map([['config.json', HUGE_CONFIG]]) } },
      api: {
        listed: [
          { id: 'stand-in/tiny-llama', downloads: 1200, architectures: ['LlamaForCausalLM'], parameters: 140_000 },
          { id: 'stand-in/huge-llama', downloads: 900, architectures: ['LlamaForCausalLM'], parameters: 405_000_000_000, gated: false },
          { id: 'stand-in/tiny-gpt2', downloads: 5000, architectures: ['GPT2LMHeadModel'], parameters: 124_000_000 },
          { id: 'stand-in/secret-llama', downloads: 3, architectures: ['LlamaForCausalLM'], gated: 'manual' },
        ],
        users: { [TOKEN]: { name: 'alice' } },
      },
    });
  });
  test.afterEach(async () => {
    await hub.close().catch(() => undefined);
  });

  test('search lists the trainable models, marks one that does not fit, loads the chosen one; offline the library answers', async ({ page }, testInfo) => {
    const logs = collectLogs(page);
    const shot = shooter(page, testInfo);
    try {
      await openStudio(page);
      await page.getByLabel('Hugging Face model id').pressSequentially('stand-in', { delay: 20 });
      const results = page.getByRole('list', { name: 'Hub models' });
      await expect(results.getByRole('listitem')).toHaveCount(3);
      await expect(results).not.toContainText('tiny-gpt2');
      await expect(page.getByTestId('hub-hidden')).toContainText('1 more not shown: architectures this studio does not train (GPT2LMHeadModel)');
      const item = (id: string) => results.getByRole('listitem').filter({ hasText: id });
      await expect(item('tiny-llama')).toContainText('140.0 k parameters');
      await expect(item('tiny-llama').locator('[data-fit]')).toHaveAttribute('data-fit', 'fits');
      await expect(item('tiny-llama')).toContainText('Fits this GPU');
      await expect(item('huge-llama')).toContainText('405.00 B parameters');
      await expect(item('huge-llama').locator('[data-fit]')).toHaveAttribute('data-fit', 'no');
      await expect(item('huge-llama')).toContainText(/Does not fit this GPU .*the .* needs \d/);
      await expect(item('secret-llama')).toContainText('Gated');
      await expect(item('secret-llama')).toContainText('enter your access token to check the fit');
      // The search went to /api/models, with no token (none was typed).
      expect(hub.api.apiLog.filter((r) => r.route === 'models').every((r) => !r.auth && r.status === 200)).toBe(true);
      await shot('search-results');
      await testInfo.attach('search results', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });

      await page.getByRole('button', { name: 'Load stand-in/tiny-llama' }).click();
      await expect(page.getByTestId('model-summary')).toBeVisible({ timeout: 180_000 });
      await expect(page.getByLabel('Hugging Face model id')).toHaveValue('stand-in/tiny-llama');
      await expect(page.getByRole('list', { name: 'Model library' }).getByRole('listitem').filter({ hasText: 'stand-in/tiny-llama' })).toHaveCount(1);

      await hub.close();
      await page.getByLabel('Hugging Face model id').fill('tiny');
      const offline = page.getByTestId('hub-offline');
      await expect(offline.getByRole('status')).toContainText(`The Hub at 127.0.0.1:${STAND_IN_HUB_PORT} is unreachable`);
      await expect(offline.getByRole('status')).toContainText('Showing the models stored in this browser.');
      await expect(offline.getByRole('list', { name: 'Stored models matching' }).getByRole('listitem')).toContainText('stand-in/tiny-llama');
      await expect(page.getByRole('list', { name: 'Hub models' })).toHaveCount(0);
      await shot('search-offline');
      await testInfo.attach('search offline', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
    } finally {
      await testInfo.attach('browser-logs', { body: logs.join('\n'), contentType: 'text/plain' });
    }
  });

  test('push: a 401 and a dropped connection are named, the retry completes and the three files, the GGUF and the ONNX folders arrive byte for byte', async ({ page }, testInfo) => {
    const logs = collectLogs(page);
    const shot = shooter(page, testInfo);
    try {
      // ?ort=wasm: onnxruntime-web's WebGPU backend on SwiftShader is far too slow (as in export-onnx.spec.ts).
      await openStudio(page, '&ort=wasm');
      await page.getByRole('button', { name: 'Use demo model' }).click();
      await expect(page.getByTestId('dataset-summary')).toContainText('sample.jsonl', { timeout: 120_000 });
      await page.getByLabel('Max steps', { exact: true }).fill('1');
      await page.getByRole('button', { name: 'Start training' }).click();
      await expect(page.getByText('Training finished.')).toBeVisible({ timeout: 5 * 60_000 });

      // A GGUF of the adapter built on the page goes along, in its folder.
      const [ggufDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download GGUF adapter' }).click()]);
      const ggufZipPath = testInfo.outputPath('gguf-adapter.zip');
      await ggufDl.saveAs(ggufZipPath);
      await expect(page.getByTestId('push-extras')).toContainText('Also pushed: gguf-adapter/ (3 files');
      // So does the web (ONNX) export, in the folder of its Transformers.js dtype.
      const [onnxDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'For the web (ONNX)' }).click()]);
      const onnxZipPath = testInfo.outputPath('lora-model-onnx.zip');
      await onnxDl.saveAs(onnxZipPath);
      await expect(page.getByTestId('push-extras')).toContainText(/gguf-adapter\/ \(3 files, [^)]*\), onnx-fp32\/ \(5 files, /);

      // The token goes to the stand-in only once the user allows that host (endpoint.ts's rule).
      await page.getByRole('note', { name: 'Hub override' }).getByRole('checkbox', { name: `Send my token to 127.0.0.1:${STAND_IN_HUB_PORT}` }).check();
      await page.getByLabel('Repository name').fill('demo-adapter');
      await expect(page.getByRole('checkbox', { name: 'Private repository' })).toBeChecked();
      const push = page.getByRole('button', { name: /^(Push to the Hub|Retry push)$/ });
      const alert = page.locator('.hub-push').getByRole('alert');

      await page.getByLabel('Hub write token').fill('hf_expired');
      await push.click();
      await expect(alert).toContainText('Access token refused: The Hub refused the access token (401');
      await expect(alert).toContainText('wrong or expired');
      await shot('push-401');
      await testInfo.attach('push 401', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
      expect(hub.api.repos.size).toBe(0);

      // Uploads go through XMLHttpRequest (xhr-upload.ts): fetch has no upload progress.
      const uploadKinds: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/lfs-upload/')) uploadKinds.push(r.resourceType());
      });
      await page.getByLabel('Hub write token').fill(TOKEN);
      // Every commit call drops until the user retries (Chromium itself resends a request once when
      // a reused connection closes unanswered; the page sees the drop only when that fails too).
      hub.api.drop('commit', 1000);
      await push.click();
      await expect(alert).toContainText('Connection dropped: The connection to');
      await expect(alert).toContainText('dropped while committing');
      hub.api.stopDrops();
      await shot('push-dropped');
      await testInfo.attach('push dropped', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
      const uploads = () => hub.api.apiLog.filter((r) => r.route === 'lfs-upload' && r.status === 200).length;
      expect(uploads()).toBe(3); // the adapter, the GGUF and onnx/model.onnx, before the commit dropped
      expect(uploadKinds).toEqual(['xhr', 'xhr', 'xhr']);

      await expect(push).toHaveText('Retry push');
      await push.click();
      await expect(page.getByTestId('push-done')).toContainText('Pushed to alice/demo-adapter');
      await expect(page.getByRole('list', { name: 'Push progress' })).toContainText('adapter_model.safetensors already on the Hub, not sent again');
      expect(uploads()).toBe(3); // the retry did not send them again
      await shot('push-done');
      await testInfo.attach('push done', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });

      const repo = hub.api.repos.get('alice/demo-adapter')!;
      expect(repo.private).toBe(true);
      const gguf = readZip(new Uint8Array(readFileSync(ggufZipPath))).entries;
      // A streamed zip (sizes in data descriptors): read with fflate.
      const onnx = Object.entries(unzipSync(new Uint8Array(readFileSync(onnxZipPath))));
      expect([...repo.files.keys()].sort()).toEqual(
        ['README.md', 'adapter_config.json', 'adapter_model.safetensors', ...gguf.map((e) => `gguf-adapter/${e.name}`), ...onnx.map(([name]) => `onnx-fp32/${name}`)].sort(),
      );
      for (const e of gguf) expect(Buffer.compare(Buffer.from(repo.files.get(`gguf-adapter/${e.name}`)!), Buffer.from(e.data)), e.name).toBe(0);
      for (const [name, data] of onnx) expect(Buffer.compare(Buffer.from(repo.files.get(`onnx-fp32/${name}`)!), Buffer.from(data)), name).toBe(0);
      // Byte for byte what the .zip download holds.
      const [zipDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download .zip' }).click()]);
      const zipPath = testInfo.outputPath('lora-adapter.zip');
      await zipDl.saveAs(zipPath);
      const zip = readZip(new Uint8Array(readFileSync(zipPath)));
      for (const name of ['adapter_model.safetensors', 'adapter_config.json']) {
        const local = zip.entries.find((e) => e.name === name)!.data;
        expect(Buffer.compare(Buffer.from(repo.files.get(name)!), Buffer.from(local)), name).toBe(0);
      }
      const card = new TextDecoder().decode(repo.files.get('README.md'));
      await testInfo.attach('pushed README.md', { body: card, contentType: 'text/markdown' });
      // The pushed card is the download's card, every line in order, plus the lines about the folders.
      const cardLines = card.split('\n');
      let at = 0;
      for (const line of new TextDecoder().decode(zip.entries.find((e) => e.name === 'README.md')!.data).split('\n')) {
        const found = cardLines.indexOf(line, at);
        expect(found, `the download's card line ${JSON.stringify(line)}`).toBeGreaterThanOrEqual(at);
        at = found + 1;
      }
      expect(card).toContain('\n- `gguf-adapter/`: this adapter as GGUF');
      expect(card).toContain('\n- `onnx-fp32/`: the base model with this adapter for the web');
      expect(card).toContain("env.remotePathTemplate = '{model}/resolve/{revision}/onnx-fp32/';");
      expect(card).toContain("AutoModelForCausalLM.from_pretrained('alice/demo-adapter', { dtype: 'fp32' })");
      expect(card).toMatch(/^---\nlibrary_name: peft\ntags:\n/);
      expect(card).toContain('| Step | Training loss | Validation loss |');
      expect(card).not.toContain('capital of France'); // the dataset's name and size only, never its content
    } finally {
      await testInfo.attach('browser-logs', { body: logs.join('\n'), contentType: 'text/plain' });
    }
  });
});
