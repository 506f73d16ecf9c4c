import type { KernelCheck } from './check';
import { addInplace, addInplaceCpu } from './add';
import { maxAbsErr, randomF32 } from './random';

export const addChecks: KernelCheck[] = [1, 255, 256, 1000, 70_001].map((n) => ({
  name: `add_inplace n=${n}`,
  async run(gpu) {
    const y = randomF32(n, 1);
    const x = randomF32(n, 2);
    const yb = gpu.upload(y, 'y');
    const xb = gpu.upload(x, 'x');
    await gpu.run((rec) => addInplace(rec, yb, xb, n));
    const got = await gpu.readF32(yb, n);
    gpu.destroyBuffer(yb);
    gpu.destroyBuffer(xb);
    addInplaceCpu(y, x, n);
    return { error: maxAbsErr(got, y), tolerance: 0 };
  },
}));
