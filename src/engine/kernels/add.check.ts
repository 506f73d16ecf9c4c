import type { KernelCheck } from './check';
import { addInplace, addInplaceCpu, scaleInplace, scaleInplaceCpu, splitReduce, splitReduceCpu } from './add';
import { withSmallGrid } from './matmul.check';
import { maxAbsErr, randomF32 } from './random';

const addChecks0: KernelCheck[] = [1, 255, 256, 1000, 70_001].map((n) => ({
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

// y *= alpha (Gemma's embedding scale, f32 sqrt(640)): one f32 product, the same bits.
const scaleChecks: KernelCheck[] = [1, 640 * 3, 70_001].map((n) => ({
  name: `scale_inplace n=${n}`,
  async run(gpu) {
    const y = randomF32(n, 3);
    const alpha = Math.fround(Math.sqrt(640));
    const yb = gpu.upload(y, 'y');
    await gpu.run((rec) => scaleInplace(rec, yb, alpha, n));
    const got = await gpu.readF32(yb, n);
    gpu.destroyBuffer(yb);
    scaleInplaceCpu(y, alpha, n);
    return { error: maxAbsErr(got, y), tolerance: 0 };
  },
}));

// The split-K reduce: f32 sums in slice order, so the CPU twin gives the same bits (tolerance 0).
const reduceCases: Array<{ n: number; slices: number; stride: number; accumulate: boolean; alpha?: number; maxPerDim?: number }> = [
  { n: 1, slices: 1, stride: 1, accumulate: false },
  { n: 1, slices: 2, stride: 1, accumulate: true },
  { n: 300, slices: 3, stride: 300, accumulate: false },
  { n: 300, slices: 5, stride: 307, accumulate: true }, // gaps between the slices' partials
  { n: 1000, slices: 16, stride: 1000, accumulate: true, maxPerDim: 2 }, // folded grid
  { n: 5000, slices: 3, stride: 5001, accumulate: true, maxPerDim: 3 }, // grid smaller than n: strided
  { n: 300, slices: 4, stride: 300, accumulate: false, alpha: 0.5 }, // LoRA's scale
  { n: 1000, slices: 16, stride: 1000, accumulate: true, alpha: 1 / 0.7, maxPerDim: 2 }, // LoRA dropout's 1/(1−p)
];

const reduceChecks: KernelCheck[] = reduceCases.map((c) => ({
  name: `split_reduce n=${c.n} slices=${c.slices} stride=${c.stride}${c.accumulate ? ' accumulate' : ''}${c.alpha !== undefined ? ` alpha=${c.alpha.toFixed(3)}` : ''}${c.maxPerDim ? ` grid<=${c.maxPerDim}` : ''}`,
  async run(gpu) {
    const partials = randomF32((c.slices - 1) * c.stride + c.n, 3);
    const y = randomF32(c.n, 4);
    const yb = gpu.upload(y, 'y');
    const pb = gpu.upload(partials, 'partials');
    const g = c.maxPerDim ? withSmallGrid(gpu, c.maxPerDim) : gpu;
    await g.run((rec) => splitReduce(rec, yb, pb, c.n, c.slices, c.stride, c.accumulate, c.alpha));
    const got = await gpu.readF32(yb, c.n);
    gpu.destroyBuffer(yb);
    gpu.destroyBuffer(pb);
    splitReduceCpu(y, partials, c.n, c.slices, c.stride, c.accumulate, c.alpha);
    return { error: maxAbsErr(got, y), tolerance: 0 };
  },
}));

export const addChecks: KernelCheck[] = [...addChecks0, ...scaleChecks, ...reduceChecks];
