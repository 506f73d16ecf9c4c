import { describe, expect, it } from 'vitest';
import { addInplace, addInplaceCpu } from './add';
import { maxAbsErr, randomF32, testGpu } from './testing';

describe('add kernel', () => {
  for (const n of [1, 255, 256, 1000, 70_001]) {
    it(`GPU matches CPU for n=${n}`, async () => {
      const gpu = await testGpu();
      const y = randomF32(n, 1);
      const x = randomF32(n, 2);
      const yb = gpu.upload(y, 'y');
      const xb = gpu.upload(x, 'x');
      await gpu.run((rec) => addInplace(rec, yb, xb, n));
      const got = await gpu.readF32(yb, n);
      gpu.destroyBuffer(yb);
      gpu.destroyBuffer(xb);
      addInplaceCpu(y, x, n);
      expect(maxAbsErr(got, y)).toBe(0);
    });
  }
});
