import type { KernelCheck } from './check';
import { embeddingForward, embeddingForwardCpu } from './embedding';
import { withSmallGrid } from './matmul.check';
import { maxAbsErr, randomF32, rng } from './random';

interface Shape {
  N: number;
  C: number;
  V: number;
  maxPerDim?: number;
}

const shapes: Shape[] = [
  { N: 1, C: 1, V: 1 },
  { N: 33, C: 70, V: 45 },
  { N: 16, C: 256, V: 1000 },
  { N: 5, C: 3000, V: 7 },
  { N: 70, C: 33, V: 20, maxPerDim: 4 },
];

export const embeddingChecks: KernelCheck[] = shapes.map((s) => ({
  name: `embedding forward N=${s.N} C=${s.C} V=${s.V}${s.maxPerDim ? ` grid<=${s.maxPerDim}` : ''}`,
  async run(gpu) {
    const { N, C, V } = s;
    const table = randomF32(V * C, 41);
    const r = rng(42);
    const ids = new Uint32Array(N);
    for (let n = 0; n < N; n++) ids[n] = Math.floor(r() * V);
    if (N > 3) {
      ids[N - 1] = V - 1; // last row of the table
      ids[N - 2] = V; // out of range: zero row
      ids[N - 3] = 0xffffffff; // out of range, would overflow id*C
    }
    const ob = gpu.upload(randomF32(N * C, 43), 'out');
    const ib = gpu.upload(ids, 'ids');
    const tb = gpu.upload(table, 'table');
    const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
    await g.run((rec) => embeddingForward(rec, ob, ib, tb, N, C));
    const got = await gpu.readF32(ob, N * C);
    for (const b of [ob, ib, tb]) gpu.destroyBuffer(b);
    const want = new Float32Array(N * C);
    embeddingForwardCpu(want, ids, table, N, C);
    return { error: maxAbsErr(got, want), tolerance: 0 };
  },
}));
