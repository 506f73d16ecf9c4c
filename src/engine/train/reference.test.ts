// The whole engine against PyTorch + PEFT: every fixture under ../shared/fixtures/reference that
// has a model, trained five steps from its adapter_init, held to the bounds of fixtures/README.md.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkReference, missedBounds } from '../../cli/check-reference';
import { testGpu } from '../kernels/testing';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const fixtures = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'model', 'config.json'))) : [];

// One GPU for the file (testGpu): each fixture reuses the pipelines the ones before it compiled.
// The f32 check of tiny-qwen2 also writes its adapter (--out-adapter), which the reload test reads
// back: one five-step run serves both tests instead of two identical ones.
const RELOADED = 'tiny-qwen2';
const reloadDir = mkdtempSync(join(tmpdir(), 'adapter-'));
afterAll(() => rmSync(reloadDir, { recursive: true, force: true }));
let reloadRun: ReturnType<typeof checkReference> | null = null;
async function f32Check(name: string): ReturnType<typeof checkReference> {
  const gpu = await testGpu();
  if (name !== RELOADED) return checkReference(join(root, name), { gpu });
  reloadRun ??= checkReference(join(root, name), { outAdapter: reloadDir, gpu });
  return reloadRun;
}

describe('engine vs PyTorch + PEFT reference fixtures', () => {
  it('finds the reference fixtures', () => {
    expect(fixtures.length, `no fixtures under ${root}`).toBeGreaterThanOrEqual(3);
  });
  for (const name of fixtures) {
    it(`${name}: loss, logits, gradients, 5 AdamW steps, final adapter`, async () => {
      const r = await f32Check(name);
      expect(r.grad_tensors).toBeGreaterThan(0);
      const ref = JSON.parse(readFileSync(join(root, name, 'reference.json'), 'utf8')) as { initial_loss: number; method?: string };
      expect(Math.abs(r.loss - ref.initial_loss) / ref.initial_loss).toBeLessThanOrEqual(1e-4);
      expect(r.logits_max_abs_err).toBeLessThanOrEqual(2e-3);
      expect(r.grad_max_rel_err, `worst gradient ${r.grad_worst}`).toBeLessThanOrEqual(1e-3);
      expect(r.step_loss_max_rel_err).toBeLessThanOrEqual(1e-3);
      expect(r.adapter_max_rel_err).toBeLessThanOrEqual(1e-2);
      // A preference fixture has no logits after training, but its first forward's figures.
      if (ref.method && ref.method !== 'sft') {
        expect(r.method).toBe(ref.method);
        expect(r.metrics_max_err, `worst metric ${r.metrics_worst}`).toBeLessThanOrEqual(1e-4);
      } else {
        expect(r.logits_after_training_max_abs_err).toBeLessThanOrEqual(1e-2);
      }
      expect(missedBounds(r, ref)).toEqual([]);
    });
  }
});

describe('the written adapter reloads to PyTorch logits after training', () => {
  it('tiny-qwen2: --out-adapter files, read back, give logits_after_training within 1e-2', async () => {
    const { readAdapter } = await import('../lora/adapter');
    const { loadModelFolder } = await import('../model/weights');
    const { nodeFolder, fileSource } = await import('../../io/node-files');
    const { readSafetensorsHeader, readTensorF32 } = await import('../../io/safetensors');
    const { Trainer } = await import('./trainer');
    const { DEFAULT_TRAIN } = await import('./types');
    const dir = join(root, RELOADED);
    const out = reloadDir;
    await f32Check(RELOADED);
    const model = await loadModelFolder(nodeFolder(join(dir, 'model')));
    const adapter = await readAdapter(nodeFolder(out), model.spec);
    const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { input_ids: number[][]; attention_mask: number[][] };
    const B = batch.input_ids.length;
    const T = batch.input_ids[0].length;
    const ids = Int32Array.from(batch.input_ids.flat());
    const mask = Int32Array.from(batch.attention_mask.flat());
    const gpu = await testGpu();
    const t = await Trainer.create(gpu, model, adapter.settings, DEFAULT_TRAIN, { maxBatch: B, maxSeq: T, initAdapter: adapter.tensors });
    const got = await t.logits({ B, T, inputIds: ids, attentionMask: mask, labels: ids });
    t.destroy();
    const src = await fileSource(join(dir, 'reference.safetensors'));
    const want = await readTensorF32(src, await readSafetensorsHeader(src), 'logits_after_training');
    const V = model.spec.vocabSize;
    let err = 0;
    for (let i = 0; i < B * T; i++) if (mask[i]) for (let v = 0; v < V; v++) err = Math.max(err, Math.abs(got[i * V + v] - want[i * V + v]));
    expect(err).toBeLessThanOrEqual(1e-2);
  });
});

// The quantized-base bounds (int8 within 2e-3, int4 within 4e-2 of the first loss, the loss falling)
// are tested once, on the product's path: src/hub/load.test.ts imports each fixture into the store and
// trains on the stored quantized matrices.
