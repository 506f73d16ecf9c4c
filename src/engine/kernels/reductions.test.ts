// The workgroup reductions in both forms. The default test GPU (SwiftShader, 4-wide subgroups)
// runs the tree form in every kernel test, as a GPU without wide subgroups would; here the same
// checks run again on a device forced to the subgroup form, the one real GPUs get.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../gpu/node';
import { MIN_SUBGROUP_SIZE, shaderKey, subgroupsCompile, type Gpu, type Shader } from '../../gpu/gpu';
import { composeShader } from './reductions';
import type { KernelCheck } from './check';
import { crossEntropyChecks } from './crossentropy.check';
import { decodeChecks } from './decode.check';
import { matmulQChecks } from './matmul-q.check';
import { objectiveChecks } from './objective.check';
import { optimizerChecks } from './optimizer.check';
import { rmsnormChecks } from './rmsnorm.check';
import { testGpu } from './testing';

const gemv = (checks: KernelCheck[]): KernelCheck[] => checks.filter((c) => c.name.includes('gemv'));
const reducing: KernelCheck[] = [...rmsnormChecks, ...crossEntropyChecks, ...objectiveChecks, ...optimizerChecks, ...gemv(decodeChecks), ...gemv(matmulQChecks)];

let forced: Promise<Gpu> | null = null;
const subgroupGpu = (): Promise<Gpu> => (forced ??= createNodeGpu({ subgroups: true }));
afterAll(async () => {
  if (forced) (await forced).destroy();
});

describe('workgroup reductions', () => {
  it(`the default test GPU has subgroups narrower than ${MIN_SUBGROUP_SIZE}, so kernel tests run the tree form`, async () => {
    const gpu = await testGpu();
    expect(gpu.adapter.info.subgroupMinSize).toBeLessThan(MIN_SUBGROUP_SIZE);
    expect(gpu.subgroups).toBe(false);
  });

  it('a GPU created with subgroups: true runs the subgroup form (SwiftShader has the feature)', async () => {
    const gpu = await subgroupGpu();
    expect(gpu.features.has('subgroups'), 'without the feature the subgroup kernels would go untested').toBe(true);
    expect(gpu.subgroups).toBe(true);
  });

  it('the probe that guards the subgroup form: true on a device with subgroups, false on one without', async () => {
    expect(await subgroupsCompile((await subgroupGpu()).device)).toBe(true);
    const plain = await testGpu();
    expect(plain.features.has('subgroups')).toBe(false);
    expect(await subgroupsCompile(plain.device)).toBe(false);
    expect(plain.takeUncapturedError(), 'the rejected probe is not reported as an error').toBeNull();
  });

  for (const c of reducing) {
    it(`subgroup form: ${c.name}`, async () => {
      const { error, tolerance } = await c.run(await subgroupGpu());
      expect(error, `${c.name}: error ${error} over tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
    });
  }
});

describe('composeShader', () => {
  it('puts the pieces in front in order, and names them in the pipeline cache key', () => {
    const a = { name: 'a', code: '// piece a' };
    const b = { name: 'b', code: '// piece b', subgroupCode: 'enable subgroups;\n// piece b, subgroups' };
    const plain: Shader = { name: 'k', code: '// kernel' };
    const withA = composeShader('k', '// kernel', [a]);
    const withBA = composeShader('k', '// kernel', [b, a]);
    expect(withA.code).toBe('// piece a\n// kernel');
    expect(withA.subgroupCode).toBeUndefined();
    expect(withBA.subgroupCode).toBe('enable subgroups;\n// piece b, subgroups\n// piece a\n// kernel');
    // Same name, different compositions: three cache keys, not one module for all.
    expect(new Set([shaderKey(plain), shaderKey(withA), shaderKey(withBA)]).size).toBe(3);
    expect(shaderKey(withBA)).toBe('k+b+a');
  });
});
