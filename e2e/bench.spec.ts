// The benchmark page (bench.html) in headless Chromium with WebGPU (SwiftShader): the same
// src/engine/bench code as the CLI, started through query parameters (?autorun=…), and an invalid
// field named on the page. No adapter fails the test.
import { expect, test, type Page } from '@playwright/test';
import type { BenchPageResult } from '../src/app/bench-page';
import type { MatmulBenchResult } from '../src/engine/bench/matmul-bench';
import type { TrainBenchResult } from '../src/engine/bench/train-bench';
import type { GenerateBenchResult } from '../src/engine/bench/generate-bench';
import { collectLogs, shooter } from './helpers';

async function finished(page: Page): Promise<BenchPageResult> {
  await page.waitForFunction(() => window.__benchResult?.done === true, null, { timeout: 8 * 60_000, polling: 250 });
  return (await page.evaluate(() => window.__benchResult)) as BenchPageResult;
}

test('training and matmul benchmarks run in the page', async ({ page }, testInfo) => {
  const logs = collectLogs(page);
  const shot = shooter(page, testInfo);
  try {
    await page.goto('/bench.html?model=tiny&batch=1&seq=16&rank=4&steps=2&autorun=train');
    await expect(page.getByRole('heading', { name: 'Benchmarks' })).toBeVisible();
    const train = await finished(page);
    await shot('train-done');
    expect(train.error, JSON.stringify(train.error)).toBeNull();
    const r = train.result as TrainBenchResult;
    // The page shows the same JSON it publishes.
    expect(JSON.parse((await page.locator('#json').textContent()) ?? '')).toEqual(r);
    expect(r).toMatchObject({ model: 'tiny', layers: 2, quant: 'none', batch: 1, seq: 16, rank: 4, checkpointing: false, steps: 2 });
    expect(r.tokens_per_s).toBeGreaterThan(0);
    expect(r.step_ms).toBeGreaterThan(0);
    expect(r.model_tflop_per_s).toBeGreaterThan(0);
    expect(r.gpu_bytes).toBeGreaterThan(0);
    expect(r.losses).toHaveLength(2);
    // Chromium compiled every pipeline in parallel before the first step (createComputePipelineAsync).
    expect(r.compiled.ahead).toBeGreaterThan(0);
    expect(r.compiled.first_use).toBe(0);
    for (const l of r.losses) expect(Number.isFinite(l), `loss ${l}`).toBe(true);
    expect(r.adapter.trim()).not.toBe('');
    if (r.kernels) {
      expect(Object.keys(r.kernels).length).toBeGreaterThan(0);
      await expect(page.locator('#kernel-table tbody tr')).toHaveCount(Object.keys(r.kernels).length);
    }
    await expect(page.getByRole('status')).toContainText('tokens/s');

    // The matmul form, filled and submitted by hand on the same page (same worker and device).
    await page.locator('#matmul-M').fill('64');
    await page.locator('#matmul-N').fill('64');
    await page.locator('#matmul-K').fill('64');
    await page.locator('#matmul-quant').selectOption('int4');
    await page.getByRole('button', { name: 'Run matmul benchmark' }).click();
    const mm = await finished(page);
    await shot('matmul-done');
    expect(mm.error, JSON.stringify(mm.error)).toBeNull();
    expect(mm.kind).toBe('matmul');
    const m = mm.result as MatmulBenchResult;
    expect(m.matmul).toEqual([64, 64, 64]);
    expect(m.quant).toBe('int4');
    expect(m.gflops).toBeGreaterThan(0);
    expect(JSON.parse((await page.locator('#json').textContent()) ?? '')).toEqual(m);
  } finally {
    await testInfo.attach('console.txt', { body: logs.join('\n') || '(empty)', contentType: 'text/plain' });
  }
});

test('a matmul from query parameters (autorun=matmul)', async ({ page }) => {
  await page.goto('/bench.html?M=64&N=64&K=64&autorun=matmul');
  const mm = await finished(page);
  expect(mm.error, JSON.stringify(mm.error)).toBeNull();
  const m = mm.result as MatmulBenchResult;
  expect(m).toMatchObject({ matmul: [64, 64, 64], quant: 'none' });
  expect(m.gflops).toBeGreaterThan(0);
});

test('generation from query parameters (autorun=generate), and a bad token count named', async ({ page }, testInfo) => {
  await page.goto('/bench.html?gmodel=tiny&gquant=int4&grank=4&prompt=6&tokens=3&autorun=generate');
  const res = await finished(page);
  await page.screenshot({ path: testInfo.outputPath('generate-done.png'), fullPage: true });
  expect(res.error, JSON.stringify(res.error)).toBeNull();
  expect(res.kind).toBe('generate');
  const g = res.result as GenerateBenchResult;
  expect(g).toMatchObject({ generate: 'tiny', layers: 2, quant: 'int4', rank: 4, prompt: 6, tokens: 3 });
  for (const v of [g.prefill_ms, g.ms_per_token, g.tokens_per_s, g.gpu_bytes]) expect(v).toBeGreaterThan(0);
  expect(JSON.parse((await page.locator('#json').textContent()) ?? '')).toEqual(g);
  await expect(page.getByRole('status')).toContainText('ms a token');

  await page.locator('#gen-tokens').fill('1');
  await page.getByRole('button', { name: 'Run generation benchmark' }).click();
  await expect(page.getByRole('alert')).toContainText('tokens must be an integer ≥ 2 (got "1")');
  await expect(page.locator('#gen-tokens')).toHaveAttribute('aria-invalid', 'true');
});

test('an invalid field is named on the page', async ({ page }, testInfo) => {
  await page.goto('/bench.html?model=tiny&batch=0&seq=16&autorun=train');
  const res = await finished(page);
  expect(res.result).toBeNull();
  expect(res.error).toMatchObject({ name: 'BenchFieldError', field: 'batch' });
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('batch must be a positive integer (got "0")');
  await expect(page.locator('#train-batch')).toHaveAttribute('aria-invalid', 'true');
  await page.screenshot({ path: testInfo.outputPath('invalid-field.png'), fullPage: true });

  // A bad matmul size is named the same way, and the earlier mark goes.
  await page.locator('#matmul-K').fill('-3');
  await page.getByRole('button', { name: 'Run matmul benchmark' }).click();
  await expect(alert).toContainText('K must be a positive integer (got "-3")');
  await expect(page.locator('#matmul-K')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#train-batch')).not.toHaveAttribute('aria-invalid', 'true');
});

test('the studio links to the benchmark page', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Benchmarks' }).click();
  await expect(page).toHaveURL(/\/bench\.html$/);
  await expect(page.getByRole('heading', { name: 'Benchmarks' })).toBeVisible();
});

test('without WebGPU the page says so', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/bench.html?M=64&N=64&K=64&autorun=matmul');
  const res = await finished(page);
  expect(res.error).toMatchObject({ name: 'GpuUnavailableError', field: null });
  await expect(page.getByRole('alert')).toContainText('No WebGPU here');
});
