// The workgroup reductions in both forms. Every kernel test runs on the default test GPU, which
// uses the subgroup form (SwiftShader has subgroups); here the same checks run again on a device
// created without subgroups, so the portable tree form is proven too.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../gpu/node';
import type { Gpu } from '../../gpu/gpu';
import type { KernelCheck } from './check';
import { crossEntropyChecks } from './crossentropy.check';
import { decodeChecks } from './decode.check';
import { optimizerChecks } from './optimizer.check';
import { rmsnormChecks } from './rmsnorm.check';
import { testGpu } from './testing';

const reducing: KernelCheck[] = [...rmsnormChecks, ...crossEntropyChecks, ...optimizerChecks, ...decodeChecks.filter((c) => c.name.includes('gemv'))];

let portable: Promise<Gpu> | null = null;
afterAll(async () => {
  if (portable) (await portable).destroy();
});

describe('workgroup reductions', () => {
  it('the test GPU runs the subgroup form (so every kernel test covers it)', async () => {
    const gpu = await testGpu();
    expect(gpu.features.has('subgroups'), 'SwiftShader offers subgroups; without them the subgroup kernels go untested').toBe(true);
    expect(gpu.subgroups).toBe(true);
  });

  it('a GPU created with subgroups: false runs the tree form', async () => {
    portable ??= createNodeGpu({ subgroups: false });
    const gpu = await portable;
    expect(gpu.subgroups).toBe(false);
  });

  for (const c of reducing) {
    it(`tree form: ${c.name}`, async () => {
      portable ??= createNodeGpu({ subgroups: false });
      const { error, tolerance } = await c.run(await portable);
      expect(error, `${c.name}: error ${error} over tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
    });
  }
});
