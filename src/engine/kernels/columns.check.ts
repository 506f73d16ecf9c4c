import type { KernelCheck } from './check';
import { columnsJoin, columnsJoinCpu, columnsSplit, columnsSplitCpu } from './columns';
import { withSmallGrid } from './matmul.check';
import { maxAbsErr, randomF32 } from './random';

// [N, W, w, offset]: the first, a middle and the last block; one column; a folded grid.
const cases: Array<[number, number, number, number, number?]> = [
  [1, 1, 1, 0],
  [5, 20, 12, 0],
  [7, 20, 4, 12],
  [7, 20, 4, 16],
  [33, 9, 1, 5],
  [300, 40, 24, 16, 8],
];

function columnsCheck(join: boolean, [N, W, w, offset, maxPerDim]: [number, number, number, number, number?]): KernelCheck {
  return {
    name: `columns ${join ? 'join' : 'split'} N=${N} W=${W} w=${w} offset=${offset}${maxPerDim ? ` grid<=${maxPerDim}` : ''}`,
    async run(gpu0) {
      const gpu = maxPerDim ? withSmallGrid(gpu0, maxPerDim) : gpu0;
      const fused = randomF32(N * W, 7 + N);
      const part = randomF32(N * w, 8 + w);
      const fb = gpu.upload(fused, 'fused');
      const pb = gpu.upload(part, 'part');
      await gpu.run((rec) => (join ? columnsJoin(rec, fb, pb, N, W, w, offset) : columnsSplit(rec, pb, fb, N, W, w, offset)));
      const got = await gpu.readF32(join ? fb : pb, join ? N * W : N * w);
      gpu.destroyBuffer(fb);
      gpu.destroyBuffer(pb);
      if (join) columnsJoinCpu(fused, part, N, W, w, offset);
      else columnsSplitCpu(part, fused, N, W, w, offset);
      return { error: maxAbsErr(got, join ? fused : part), tolerance: 0 };
    },
  };
}

export const columnsChecks: KernelCheck[] = [...cases.map((c) => columnsCheck(false, c)), ...cases.map((c) => columnsCheck(true, c))];
