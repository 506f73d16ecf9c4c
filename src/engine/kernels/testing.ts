// Vitest helpers for GPU tests: one GPU per test file, which must exist (no adapter fails the
// test, never skips), destroyed after the file's tests.
import { afterAll, expect, it } from 'vitest';
import { createNodeGpu } from '../../gpu/node';
import type { DispatchSpec, Gpu, Recorder } from '../../gpu/gpu';
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

/** A large GPU's limits, for recording dispatches without a device. */
export const FAKE_LIMITS = {
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBufferBindingSize: 1 << 30,
  minStorageBufferOffsetAlignment: 256,
};

/** A stand-in buffer of that many floats (only its size is read while recording). */
export const fakeBuf = (floats: number): GPUBuffer => ({ size: floats * 4 }) as unknown as GPUBuffer;

/** The dispatches `fn` records on a stand-in Recorder that only collects them (no device). */
export function recordDispatches(fn: (rec: Recorder) => void, limits: Partial<typeof FAKE_LIMITS> = {}): DispatchSpec[] {
  const calls: DispatchSpec[] = [];
  fn({ gpu: { limits: { ...FAKE_LIMITS, ...limits } }, dispatch: (d: DispatchSpec) => calls.push(d) } as unknown as Recorder);
  return calls;
}
