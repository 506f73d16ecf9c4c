// Every kernel check (src/engine/kernels/*.check.ts) inside headless Chromium on WebGPU
// (SwiftShader): GPU against the CPU twin, within each check's tolerance. No adapter fails.
// SwiftShader's subgroups are 4 wide, so the reducing kernels run their tree form by default; a
// second run forces their subgroup form, the one real GPUs get.
import { readdirSync } from 'node:fs';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import type { KernelPageResults } from '../src/app/kernels-page';

const checkFiles = readdirSync(new URL('../src/engine/kernels/', import.meta.url))
  .filter((f) => f.endsWith('.check.ts'))
  .map((f) => f.replace(/\.check\.ts$/, ''))
  .sort();

/** Opens kernels.html with `query`, waits for every check, asserts they ran and passed. */
async function runKernelPage(page: Page, testInfo: TestInfo, query: string, files: string[]): Promise<KernelPageResults> {
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));

  await page.goto(`/kernels.html${query}`);
  await page.screenshot({ path: testInfo.outputPath('kernels-0-start.png') });

  const started = Date.now();
  await page.waitForFunction(() => window.__kernelResults?.done === true, null, { timeout: 14 * 60_000, polling: 500 });
  const results = (await page.evaluate(() => window.__kernelResults)) as KernelPageResults;
  await page.screenshot({ path: testInfo.outputPath('kernels-1-done.png'), fullPage: true });
  await testInfo.attach('kernel-results.json', { body: JSON.stringify(results, null, 2), contentType: 'application/json' });
  if (logs.length) await testInfo.attach('console.txt', { body: logs.join('\n'), contentType: 'text/plain' });

  // The adapter must exist: a page with no WebGPU fails here, it never skips.
  expect(results.fatal, `no WebGPU: ${JSON.stringify(results.fatal)}`).toBeNull();
  expect(results.adapter, 'no GPU adapter').not.toBeNull();

  // Every requested check file ran at least one check.
  expect(Object.keys(results.files).sort()).toEqual(files);
  for (const file of files) {
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
  console.log(`${results.passed} kernel checks passed on "${results.adapter!.name}" (${query || 'defaults'}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return results;
}

// The check files in two halves, each its own page, so two workers run them side by side (the
// pipelines a page compiles are SwiftShader's slowest part); together they are every check file.
// A half took 7.7 min on a machine loaded 10× over its cores, where the single page timed out at
// 9 min: each page may take up to 14 min before it fails.
test.describe.configure({ mode: 'parallel', timeout: 15 * 60_000 });
const halves = [checkFiles.filter((_, i) => i % 2 === 0), checkFiles.filter((_, i) => i % 2 === 1)];

for (const [n, files] of halves.entries()) {
  test(`every kernel check passes in Chromium WebGPU (files ${n + 1} of 2: ${files.join(', ')})`, async ({ page }, testInfo) => {
    await runKernelPage(page, testInfo, `?only=${files.join(',')}`, files);
  });
}

test('the reducing kernels pass in their subgroup form too', async ({ page }, testInfo) => {
  const reducing = ['crossentropy', 'decode', 'objective', 'optimizer', 'rmsnorm'];
  const results = await runKernelPage(page, testInfo, `?only=${reducing.join(',')}&subgroups=1`, reducing);
  expect(results.adapter!.features).toContain('subgroups');
  expect(results.adapter!.subgroups, 'the page ran the subgroup form').toBe(true);
});
