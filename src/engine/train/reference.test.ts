// The whole engine against PyTorch + PEFT: every fixture under ../shared/fixtures/reference that
// has a model, trained five steps from its adapter_init, held to the bounds of fixtures/README.md.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReference } from '../../cli/check-reference';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const fixtures = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'model', 'config.json'))) : [];

describe('engine vs PyTorch + PEFT reference fixtures', () => {
  it('finds the reference fixtures', () => {
    expect(fixtures.length, `no fixtures under ${root}`).toBeGreaterThanOrEqual(3);
  });
  for (const name of fixtures) {
    it(`${name}: loss, logits, gradients, 5 AdamW steps, final adapter`, async () => {
      const r = await checkReference(join(root, name));
      expect(r.grad_tensors).toBeGreaterThan(0);
      const ref = JSON.parse(readFileSync(join(root, name, 'reference.json'), 'utf8')) as { initial_loss: number };
      expect(Math.abs(r.loss - ref.initial_loss) / ref.initial_loss).toBeLessThanOrEqual(1e-4);
      expect(r.logits_max_abs_err).toBeLessThanOrEqual(2e-3);
      expect(r.grad_max_rel_err, `worst gradient ${r.grad_worst}`).toBeLessThanOrEqual(1e-3);
      expect(r.step_loss_max_rel_err).toBeLessThanOrEqual(1e-3);
      expect(r.adapter_max_rel_err).toBeLessThanOrEqual(1e-2);
    });
  }
});
