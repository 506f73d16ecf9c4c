// The benchmark page (bench.html): the CLI's `bench` (src/engine/bench) on the browser's WebGPU, in
// a worker (src/app/bench-worker.ts). Shows the same JSON the CLI prints in #json, a per-kernel
// table when the device has timestamp queries, and a clear error (the invalid field named, or no
// WebGPU). Publishes the outcome as `window.__benchResult` for e2e/bench.spec.ts.
//
// Query parameters prefill the forms: model, layers, batch, seq, rank, quant, checkpointing (1),
// steps for training; M, N, K, mquant, reps, tile for the matmul; gmodel, glayers, gquant, grank,
// prompt, tokens for generation. `?autorun=train|matmul|generate` starts that benchmark on load.
import { BenchFieldError, plainLabel, type RawFields } from '../engine/bench/fields';
import { parseMatmulBenchOptions, type MatmulBenchResult } from '../engine/bench/matmul-bench';
import { parseTrainBenchOptions, type TrainBenchResult } from '../engine/bench/train-bench';
import { parseGenerateBenchOptions, type GenerateBenchResult } from '../engine/bench/generate-bench';
import { PRESETS } from '../engine/model/presets';
import type { BenchEvent, BenchMethods, BenchOutcome, BenchResult } from './bench-worker';
import { RpcClient } from '../util/rpc';

export type BenchKind = 'train' | 'matmul' | 'generate';

export interface BenchPageResult {
  done: boolean;
  kind: BenchKind;
  result: BenchResult | null;
  /** field: the invalid form field (batch, seq, M, …), null for other failures. */
  error: { name: string; message: string; field: string | null } | null;
}

declare global {
  interface Window {
    __benchResult?: BenchPageResult;
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`bench.html has no #${id}`);
  return el as T;
};

const statusEl = $('status');
const errorEl = $('error');
const jsonEl = $('json');
const kernelsEl = $('kernels');
const forms: Record<BenchKind, HTMLFormElement> = {
  train: $<HTMLFormElement>('train-form'),
  matmul: $<HTMLFormElement>('matmul-form'),
  generate: $<HTMLFormElement>('generate-form'),
};

const TRAIN_FIELDS = ['model', 'layers', 'batch', 'seq', 'rank', 'quant', 'steps'] as const;
const MATMUL_FIELDS = ['M', 'N', 'K', 'quant', 'reps', 'tile'] as const;
const GENERATE_FIELDS = ['model', 'layers', 'quant', 'rank', 'prompt', 'tokens'] as const;

/** The training and generation forms' model lists, with the preset's layer count as the hint. */
const layerHints: Array<() => void> = [];
for (const prefix of ['train', 'gen']) {
  const select = $<HTMLSelectElement>(`${prefix}-model`);
  const layers = $<HTMLInputElement>(`${prefix}-layers`);
  for (const name of Object.keys(PRESETS)) {
    const o = document.createElement('option');
    o.value = o.textContent = name;
    select.append(o);
  }
  select.value = 'tiny';
  const hint = (): void => {
    layers.placeholder = String(PRESETS[select.value]?.numLayers ?? '');
  };
  select.addEventListener('change', hint);
  layerHints.push(hint);
}

function prefill(params: URLSearchParams): void {
  const set = (id: string, v: string | null): void => {
    if (v === null) return;
    const el = $<HTMLInputElement | HTMLSelectElement>(id);
    // An unknown model or quant stays as typed so that validation names it (add it as an option).
    if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === v)) {
      const o = document.createElement('option');
      o.value = o.textContent = v;
      el.append(o);
    }
    el.value = v;
  };
  for (const f of TRAIN_FIELDS) set(`train-${f}`, params.get(f));
  const ck = params.get('checkpointing');
  if (ck !== null) $<HTMLInputElement>('train-checkpointing').checked = ck === '' || ck === '1' || ck === 'true';
  for (const f of ['M', 'N', 'K'] as const) set(`matmul-${f}`, params.get(f) ?? params.get(f.toLowerCase()));
  set('matmul-quant', params.get('mquant'));
  set('matmul-reps', params.get('reps'));
  set('matmul-tile', params.get('tile'));
  for (const f of ['model', 'layers', 'quant', 'rank'] as const) set(`gen-${f}`, params.get(`g${f}`));
  set('gen-prompt', params.get('prompt'));
  set('gen-tokens', params.get('tokens'));
}

/** The form's values by field; empty fields are left out (their defaults apply). */
function rawFields(form: HTMLFormElement, fields: readonly string[]): RawFields {
  const raw: RawFields = {};
  const data = new FormData(form);
  for (const f of fields) {
    const v = data.get(f);
    if (typeof v === 'string' && v.trim() !== '') raw[f] = v.trim();
  }
  return raw;
}

function publish(r: BenchPageResult): void {
  window.__benchResult = r;
}

function clearMarks(): void {
  for (const el of document.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

function showError(kind: BenchKind, e: { name: string; message: string }, field: string | null): void {
  const form = forms[kind];
  if (field) {
    const input = form.querySelector<HTMLElement>(`[name="${field}"]`);
    input?.setAttribute('aria-invalid', 'true');
    input?.focus();
    errorEl.textContent = `Invalid field: ${e.message}`;
  } else if (e.name === 'GpuUnavailableError') {
    errorEl.textContent = `No WebGPU here: ${e.message}. The benchmark needs a browser with WebGPU and a GPU adapter (or run it from the command line: npm run cli -- bench …).`;
  } else {
    errorEl.textContent = `The benchmark failed: ${e.name}: ${e.message}`;
  }
  statusEl.textContent = 'Failed.';
  publish({ done: true, kind, result: null, error: { name: e.name, message: e.message, field } });
}

function fmtBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

function kernelTable(kernels: Record<string, { calls: number; ms: number }>): HTMLTableElement {
  const total = Object.values(kernels).reduce((a, k) => a + k.ms, 0);
  const table = document.createElement('table');
  table.id = 'kernel-table';
  const head = table.createTHead().insertRow();
  for (const h of ['kernel', 'calls', 'ms', 'share']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const body = table.createTBody();
  for (const [name, k] of Object.entries(kernels)) {
    const tr = body.insertRow();
    for (const c of [name, String(k.calls), k.ms.toFixed(3), total > 0 ? `${((100 * k.ms) / total).toFixed(1)} %` : '']) tr.insertCell().textContent = c;
  }
  return table;
}

function showResult(kind: BenchKind, result: BenchResult, features: string[]): void {
  jsonEl.textContent = JSON.stringify(result, null, 2);
  kernelsEl.replaceChildren();
  // With a per-kernel table the long JSON folds away (its text stays in the page for copying).
  $<HTMLDetailsElement>('json-details').open = !(kind !== 'matmul' && (result as TrainBenchResult | GenerateBenchResult).kernels);
  if (kind === 'train') {
    const r = result as TrainBenchResult;
    const mem = `${fmtBytes(r.gpu_bytes)} of GPU buffers at peak`;
    const vs = r.vs_pytorch_h100 ? ` That is ${r.vs_pytorch_h100.ratio_f32}× PyTorch f32 on an H100 (${r.vs_pytorch_h100.pytorch_f32_tokens_per_s} tokens/s).` : '';
    statusEl.textContent = r.step_ms === null ? `Done (memory only): ${mem}.` : `Done: ${r.tokens_per_s} tokens/s, ${r.step_ms} ms a step (${r.model_tflop_per_s} TFLOP/s of model arithmetic), ${mem}.${vs}`;
    if (r.kernels) {
      const h = document.createElement('h2');
      h.textContent = 'GPU time per kernel (one step)';
      kernelsEl.append(h, kernelTable(r.kernels));
    } else if (r.steps > 0 && !features.includes('timestamp-query')) {
      const p = document.createElement('p');
      p.className = 'muted';
      p.textContent = 'No per-kernel times: this device has no timestamp-query feature.';
      kernelsEl.append(p);
    }
  } else if (kind === 'generate') {
    const r = result as GenerateBenchResult;
    statusEl.textContent = `Done: ${r.tokens_per_s} tokens/s (${r.ms_per_token} ms a token), prefill of ${r.prompt} tokens ${r.prefill_ms} ms, ${fmtBytes(r.gpu_bytes)} of GPU buffers.`;
    if (r.kernels) {
      const h = document.createElement('h2');
      h.textContent = 'GPU time per kernel (one decode step)';
      kernelsEl.append(h, kernelTable(r.kernels));
    }
  } else {
    const r = result as MatmulBenchResult;
    statusEl.textContent = `Done: ${r.gflops} GFLOP/s, ${r.ms} ms a matmul.`;
  }
  publish({ done: true, kind, result, error: null });
}

let client: RpcClient<BenchMethods, BenchEvent> | null = null;
let busy = false;

function getClient(): RpcClient<BenchMethods, BenchEvent> {
  client ??= new RpcClient(new Worker(new URL('./bench-worker.ts', import.meta.url), { type: 'module', name: 'bench' }), undefined, 'the benchmark worker');
  return client;
}

function setBusy(b: boolean): void {
  busy = b;
  for (const id of ['run-train', 'run-matmul', 'run-generate']) $<HTMLButtonElement>(id).disabled = b;
}

function start(kind: BenchKind): void {
  if (busy) return;
  clearMarks();
  errorEl.textContent = '';
  publish({ done: false, kind, result: null, error: null });
  let call: (c: RpcClient<BenchMethods, BenchEvent>, onProgress: (text: string) => void) => Promise<BenchOutcome<BenchResult>>;
  try {
    if (kind === 'train') {
      const opts = parseTrainBenchOptions(rawFields(forms.train, TRAIN_FIELDS), $<HTMLInputElement>('train-checkpointing').checked, plainLabel);
      call = (c, onProgress) => c.call('train', opts, { onProgress });
    } else if (kind === 'generate') {
      const opts = parseGenerateBenchOptions(rawFields(forms.generate, GENERATE_FIELDS), plainLabel);
      call = (c, onProgress) => c.call('generate', opts, { onProgress });
    } else {
      const opts = parseMatmulBenchOptions(rawFields(forms.matmul, MATMUL_FIELDS), plainLabel);
      call = (c, onProgress) => c.call('matmul', opts, { onProgress });
    }
  } catch (e) {
    const err = e as Error;
    showError(kind, { name: err.name, message: err.message }, e instanceof BenchFieldError ? e.field : null);
    return;
  }
  if (!(navigator as Navigator & { gpu?: GPU }).gpu) {
    showError(kind, { name: 'GpuUnavailableError', message: 'this browser does not offer WebGPU (no navigator.gpu)' }, null);
    return;
  }
  setBusy(true);
  const t0 = performance.now();
  statusEl.textContent = 'Starting…';
  const c = getClient();
  call(c, (text) => (statusEl.textContent = `${text}… (${((performance.now() - t0) / 1000).toFixed(1)} s)`)).then(
    ({ result, features }) => {
      setBusy(false);
      showResult(kind, result, features);
    },
    (e: unknown) => {
      setBusy(false);
      const err = e as Error;
      // A crashed worker serves no later run: the next one starts a fresh worker.
      if (err.name === 'WorkerError') {
        c.terminate(err);
        client = null;
      }
      showError(kind, { name: err.name, message: err.message }, null);
    },
  );
}

for (const kind of ['train', 'matmul', 'generate'] as const) {
  forms[kind].addEventListener('submit', (ev) => {
    ev.preventDefault();
    start(kind);
  });
}

const params = new URLSearchParams(location.search);
prefill(params);
for (const hint of layerHints) hint();
const autorun = params.get('autorun');
if (autorun === 'train' || autorun === 'matmul' || autorun === 'generate') start(autorun);
