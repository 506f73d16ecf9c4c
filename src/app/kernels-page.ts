// The kernel-check page (kernels.html): runs every KernelCheck exported by
// src/engine/kernels/*.check.ts on the browser's WebGPU device, shows a table, and publishes the
// results as `window.__kernelResults` (and as JSON in #json) for e2e/kernels.spec.ts.
// A new *.check.ts file is picked up by the glob below without touching this page.
// `?only=add,rmsnorm` runs just those files (by file stem) when debugging one kernel;
// `?subgroups=1` (or 0) forces the reducing kernels' subgroup (or tree) form (GpuOptions.subgroups).
import type { CheckResult, KernelCheck } from '../engine/kernels/check';
import { createBrowserGpu } from '../gpu/browser';
import type { Gpu } from '../gpu/gpu';

export interface KernelRow {
  file: string;
  name: string;
  /** null when the check threw or the error was not a finite number (see `errorText`). */
  error: number | null;
  errorText: string;
  tolerance: number | null;
  ok: boolean;
  ms: number;
  thrown: { name: string; message: string } | null;
}

export interface KernelFileResult {
  /** Names of the exports that were KernelCheck arrays. */
  exports: string[];
  checks: KernelRow[];
  /** The module failed to evaluate, or exported no checks. */
  problem: string | null;
}

export interface KernelPageResults {
  done: boolean;
  /** subgroups: whether the reducing kernels ran in their subgroup form. */
  adapter: { name: string; features: string[]; limits: Record<string, number>; subgroups: boolean } | null;
  fatal: { name: string; message: string } | null;
  files: Record<string, KernelFileResult>;
  passed: number;
  failed: number;
  ms: number;
}

declare global {
  interface Window {
    __kernelResults?: KernelPageResults;
  }
}

const modules = import.meta.glob<Record<string, unknown>>('../engine/kernels/*.check.ts', { eager: true });

function isCheck(v: unknown): v is KernelCheck {
  return typeof v === 'object' && v !== null && typeof (v as KernelCheck).name === 'string' && typeof (v as KernelCheck).run === 'function';
}

function checkArrays(mod: Record<string, unknown>): Array<[string, KernelCheck[]]> {
  return Object.entries(mod).filter((e): e is [string, KernelCheck[]] => Array.isArray(e[1]) && e[1].length > 0 && e[1].every(isCheck));
}

function stem(path: string): string {
  return path.replace(/^.*\//, '').replace(/\.check\.ts$/, '');
}

function errInfo(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

const summary = document.getElementById('summary')!;
const tbody = document.querySelector('#results tbody')!;
const jsonOut = document.getElementById('json')!;

function publish(results: KernelPageResults): void {
  window.__kernelResults = results;
  jsonOut.textContent = JSON.stringify(results, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

function addRow(row: KernelRow): void {
  const tr = document.createElement('tr');
  const cells = [row.file, row.name, row.errorText, String(row.tolerance ?? ''), row.ms.toFixed(0), row.ok ? 'ok' : `FAIL${row.thrown ? `: ${row.thrown.name}: ${row.thrown.message}` : ''}`];
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.append(td);
  }
  tr.className = row.ok ? 'ok' : 'fail';
  tbody.append(tr);
}

async function runCheck(gpu: Gpu, file: string, check: KernelCheck): Promise<KernelRow> {
  const t0 = performance.now();
  try {
    const res: CheckResult = await check.run(gpu);
    const uncaptured = gpu.takeUncapturedError();
    const finite = Number.isFinite(res.error);
    const ok = uncaptured === null && finite && res.error <= res.tolerance;
    return {
      file,
      name: check.name,
      error: finite ? res.error : null,
      errorText: String(res.error),
      tolerance: res.tolerance,
      ok,
      ms: performance.now() - t0,
      thrown: uncaptured === null ? null : { name: 'GpuUncapturedError', message: uncaptured },
    };
  } catch (e) {
    return { file, name: check.name, error: null, errorText: 'threw', tolerance: null, ok: false, ms: performance.now() - t0, thrown: errInfo(e) };
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const query = new URLSearchParams(location.search);
  const only = query.get('only')?.split(',').filter(Boolean) ?? null;
  const sg = query.get('subgroups');
  const gpuOptions = { subgroups: sg === '1' ? true : sg === '0' ? false : undefined };
  const results: KernelPageResults = { done: false, adapter: null, fatal: null, files: {}, passed: 0, failed: 0, ms: 0 };
  const plan: Array<[string, KernelCheck[]]> = [];
  for (const path of Object.keys(modules).sort()) {
    const file = stem(path);
    if (only && !only.includes(file)) continue;
    const arrays = checkArrays(modules[path]);
    results.files[file] = { exports: arrays.map(([n]) => n), checks: [], problem: arrays.length ? null : 'exports no KernelCheck[]' };
    plan.push([file, arrays.flatMap(([, checks]) => checks)]);
  }
  publish(results);

  let gpu: Gpu;
  try {
    gpu = await createBrowserGpu(gpuOptions);
  } catch (e) {
    results.fatal = errInfo(e);
    results.done = true;
    summary.textContent = `No WebGPU: ${results.fatal.name}: ${results.fatal.message}`;
    publish(results);
    return;
  }
  const limits: Record<string, number> = {};
  for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const) {
    limits[k] = gpu.limits[k];
  }
  results.adapter = { name: gpu.adapterName, features: [...gpu.features].sort(), limits, subgroups: gpu.subgroups };

  const total = plan.reduce((n, [, c]) => n + c.length, 0);
  let done = 0;
  for (const [file, checks] of plan) {
    for (const check of checks) {
      summary.textContent = `Running ${done + 1} of ${total}: ${file} · ${check.name}`;
      const row = await runCheck(gpu, file, check);
      results.files[file].checks.push(row);
      if (row.ok) results.passed++;
      else results.failed++;
      addRow(row);
      done++;
      publish(results);
      // A lost device poisons every later check: start a fresh one.
      if (row.thrown?.name === 'GpuDeviceLostError') gpu = await createBrowserGpu(gpuOptions);
    }
  }
  gpu.destroy();
  results.ms = performance.now() - t0;
  results.done = true;
  summary.textContent = `${results.passed} passed, ${results.failed} failed, ${total} checks on ${results.adapter.name} in ${(results.ms / 1000).toFixed(1)} s`;
  publish(results);
}

main().catch((e: unknown) => {
  const results = window.__kernelResults ?? { done: false, adapter: null, fatal: null, files: {}, passed: 0, failed: 0, ms: 0 };
  results.fatal = errInfo(e);
  results.done = true;
  summary.textContent = `Kernel page failed: ${results.fatal.message}`;
  publish(results);
});
