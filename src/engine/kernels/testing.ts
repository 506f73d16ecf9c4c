// Vitest helpers for GPU tests: one GPU per test file, which must exist (no adapter fails the
// test, never skips), destroyed after the file's tests.
import { afterAll, expect, it } from 'vitest';
import { createNodeGpu } from '../../gpu/node';
import type { Gpu } from '../../gpu/gpu';
import type { KernelCheck } from './check';

export * from './random';

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  shared ??= createNodeGpu();
  return shared;
}

// Dawn aborts the process at exit while a device is alive, so each test file destroys its own.
afterAll(async () => {
  if (shared) (await shared).destroy();
  shared = null;
});

/** One Vitest case per kernel check: GPU against CPU within the check's tolerance. */
export function itChecks(checks: KernelCheck[]): void {
  for (const c of checks) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const { error, tolerance } = await c.run(gpu);
      expect(error, `${c.name}: error ${error} over tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
    });
  }
}
