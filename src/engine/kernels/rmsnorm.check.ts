import type { KernelCheck } from './check';
import { withSmallGrid } from './matmul.check';
import { rmsnormBackward, rmsnormBackwardCpu, rmsnormForward, rmsnormForwardCpu } from './rmsnorm';
import { maxAbsErr, randomF32, relL2Err } from './random';

interface Shape {
  N: number;
  C: number;
  accumulate?: boolean;
  maxPerDim?: number;
}

const EPS = 1e-6;
const TOL = 1e-5;

function shapeName(s: Shape): string {
  return `N=${s.N} C=${s.C}${s.accumulate ? ' accumulate' : ''}${s.maxPerDim ? ` grid<=${s.maxPerDim}` : ''}`;
}

const shapes: Shape[] = [
  { N: 1, C: 1 },
  { N: 33, C: 70 },
  { N: 96, C: 16 }, // per-head norm, tiny head_dim
  { N: 40, C: 128, accumulate: true }, // per-head norm, head_dim 128
  { N: 7, C: 256 },
  { N: 5, C: 1000 },
  { N: 3, C: 8192, accumulate: true }, // large hidden size
  { N: 50, C: 33, maxPerDim: 8 },
];

function inputs(s: Shape) {
  const { N, C } = s;
  const inp = randomF32(N * C, 21, 2);
  // A row of large values and a row of tiny ones, to exercise the reduction's range.
  if (N > 2) {
    for (let c = 0; c < C; c++) inp[C + c] *= 1000;
    for (let c = 0; c < C; c++) inp[2 * C + c] *= 1e-3;
  }
  const weight = randomF32(C, 22, 1.5);
  return { inp, weight };
}

export const rmsnormChecks: KernelCheck[] = [
  ...shapes
    .filter((s) => !s.accumulate)
    .map(
      (s): KernelCheck => ({
        name: `rmsnorm forward ${shapeName(s)}`,
        async run(gpu) {
          const { N, C } = s;
          const { inp, weight } = inputs(s);
          const ob = gpu.upload(randomF32(N * C, 23), 'out');
          const rb = gpu.upload(randomF32(N, 24), 'rstd');
          const ib = gpu.upload(inp, 'inp');
          const wb = gpu.upload(weight, 'weight');
          const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
          await g.run((rec) => rmsnormForward(rec, ob, rb, ib, wb, N, C, EPS));
          const out = await gpu.readF32(ob, N * C);
          const rstd = await gpu.readF32(rb, N);
          for (const b of [ob, rb, ib, wb]) gpu.destroyBuffer(b);
          const outCpu = new Float32Array(N * C);
          const rstdCpu = new Float32Array(N);
          rmsnormForwardCpu(outCpu, rstdCpu, inp, weight, N, C, EPS);
          return { error: Math.max(relL2Err(out, outCpu), relL2Err(rstd, rstdCpu)), tolerance: TOL };
        },
      }),
    ),
  ...shapes.flatMap((s0) =>
    (s0.accumulate ? [true] : [false, true]).map(
      (accumulate): KernelCheck => {
        const s = { ...s0, accumulate };
        return {
          name: `rmsnorm backward ${shapeName(s)}`,
          async run(gpu) {
            const { N, C } = s;
            const { inp, weight } = inputs(s);
            const rstd = new Float32Array(N);
            rmsnormForwardCpu(new Float32Array(N * C), rstd, inp, weight, N, C, EPS);
            const dout = randomF32(N * C, 25);
            const dinp = randomF32(N * C, 26);
            const bufs = [gpu.upload(dinp, 'dinp'), gpu.upload(dout, 'dout'), gpu.upload(inp, 'inp'), gpu.upload(weight, 'w'), gpu.upload(rstd, 'rstd')];
            const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
            await g.run((rec) => rmsnormBackward(rec, bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], N, C, accumulate));
            const got = await gpu.readF32(bufs[0], N * C);
            for (const b of bufs) gpu.destroyBuffer(b);
            // Scale: the largest term of dx = rstd·w·dy − x·coef (and of dinp when accumulating).
            // For tiny C the terms cancel, so a relative error of the result would measure noise.
            let scale = 0;
            const ref = dinp.slice();
            rmsnormBackwardCpu(ref, dout, inp, weight, rstd, N, C, accumulate);
            const terms = new Float32Array(N * C);
            rmsnormBackwardCpu(terms, dout, new Float32Array(N * C), weight, rstd, N, C, false);
            for (let i = 0; i < N * C; i++) scale = Math.max(scale, Math.abs(terms[i]), Math.abs(ref[i]));
            return { error: maxAbsErr(got, ref) / scale, tolerance: TOL };
          },
        };
      },
    ),
  ),
];
