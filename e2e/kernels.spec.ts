// Every kernel check (src/engine/kernels/*.check.ts) inside headless Chromium on WebGPU
// (SwiftShader): GPU against the CPU twin, within each check's tolerance. No adapter fails.
import { readdirSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import type { KernelPageResults } from '../src/app/kernels-page';

const checkFiles = readdirSync(new URL('../src/engine/kernels/', import.meta.url))
  .filter((f) => f.endsWith('.check.ts'))
  .map((f) => f.replace(/\.check\.ts$/, ''))
  .sort();

test('every kernel check passes in Chromium WebGPU', async ({ page }, testInfo) => {
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));

  await page.goto('/kernels.html');
  await page.screenshot({ path: testInfo.outputPath('kernels-0-start.png') });

  const started = Date.now();
  await page.waitForFunction(() => window.__kernelResults?.done === true, null, { timeout: 9 * 60_000, polling: 500 });
  const results = (await page.evaluate(() => window.__kernelResults)) as KernelPageResults;
  await page.screenshot({ path: testInfo.outputPath('kernels-1-done.png'), fullPage: true });
  await testInfo.attach('kernel-results.json', { body: JSON.stringify(results, null, 2), contentType: 'application/json' });
  if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });

  // The adapter must exist: a page with no WebGPU fails here, it never skips.
  expect(results.fatal, `no WebGPU: ${JSON.stringify(results.fatal)}`).toBeNull();
  expect(results.adapter, 'no GPU adapter').not.toBeNull();

  // Every check file on disk ran at least one check.
  expect(Object.keys(results.files).sort()).toEqual(checkFiles);
  for (const file of checkFiles) {
    const r = results.files[file];
    expect(r.problem, `${file}.check.ts`).toBeNull();
    expect(r.checks.length, `${file}.check.ts ran no checks`).toBeGreaterThan(0);
  }

  const failures = Object.values(results.files)
    .flatMap((f) => f.checks)
    .filter((c) => !c.ok)
    .map((c) => `${c.file} · ${c.name}: error ${c.errorText} > tolerance ${c.tolerance}${c.thrown ? ` (${c.thrown.name}: ${c.thrown.message})` : ''}`);
  expect(failures, 'kernel checks over tolerance').toEqual([]);
  expect(results.passed).toBeGreaterThan(0);
  console.log(`${results.passed} kernel checks passed on "${results.adapter!.name}" in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
