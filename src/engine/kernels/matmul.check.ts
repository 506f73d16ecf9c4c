import type { Gpu } from '../../gpu/gpu';
import type { KernelCheck } from './check';
import {
  linearBackwardInput,
  linearBackwardInputCpu,
  linearForward,
  linearForwardCpu,
  matmulSplitSlices,
  matmulTiles,
  MATMUL_TILE,
  type MatmulSplit,
  type MatmulTile,
} from './matmul';
import { resolveMatmulTile } from './matmul-tile128';
import { resolveSplit, splitPlan } from './split-k';
import { randomF32, relL2Err } from './random';

/**
 * The same Gpu, but reporting a tiny maxComputeWorkgroupsPerDimension, so a small shape exercises
 * the 2D workgroup fold that only the LM head's huge grids hit for real.
 */
export function withSmallGrid(gpu: Gpu, maxPerDim: number): Gpu {
  const l = gpu.limits;
  const limits = {
    maxComputeWorkgroupsPerDimension: maxPerDim,
    // What the matmuls' tile choice reads (matmul-tile128.ts), unchanged.
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
  };
  return Object.create(gpu, { limits: { value: limits } }) as Gpu;
}

interface Shape {
  N: number;
  In: number;
  Out: number;
  bias?: boolean;
  accumulate?: boolean;
  /** Fold the grid as if the device allowed only this many workgroups per dimension. */
  maxPerDim?: number;
  /** Force a tile size (default 'auto', which picks 64 at these sizes). */
  tile?: 64 | 128;
  /** Backward split-K: a forced number of slices, or 'auto' for the policy's own choice. */
  slices?: number | 'auto';
  /** Split-K scratch floats instead of what the split needs (a smaller one narrows the split). */
  room?: number;
  /** The slices the run must end up with (default: the plan for `slices`). */
  wantSlices?: number;
}

function shapeName(s: Shape): string {
  return (
    `N=${s.N} In=${s.In} Out=${s.Out}${s.bias ? ' bias' : ''}${s.accumulate ? ' accumulate' : ''}${s.maxPerDim ? ` grid<=${s.maxPerDim}` : ''}` +
    `${s.tile ? ` tile=${s.tile}` : ''}${s.slices !== undefined ? ` split=${s.slices}` : ''}${s.room !== undefined ? ` room=${s.room}` : ''}`
  );
}

/**
 * The split-K scratch a backward case runs with, NaN-filled (reading a slot no slice wrote poisons
 * the result), or none. Throws unless the case really splits into the slices it means to, the
 * last one ragged (shorter than the others).
 */
export function splitScratch(
  gpu: Gpu,
  what: string,
  c: { slices?: number | 'auto'; room?: number; wantSlices?: number },
  M: number,
  Nc: number,
  parts: number[],
  tile: 64 | 128,
  unit: number,
): { split?: MatmulSplit; buffers: GPUBuffer[] } {
  if (c.slices === undefined) return { buffers: [] };
  const forced = c.slices === 'auto' ? undefined : c.slices;
  const tiles = matmulTiles(M, Nc, tile);
  const K = parts.reduce((a, b) => a + b, 0);
  const plan = splitPlan(M, Nc, parts, tiles, unit, forced ?? matmulSplitSlices(tiles, K));
  const floats = c.room ?? plan.partialFloats;
  const fake = { size: floats * 4 } as GPUBuffer;
  const used = resolveSplit({ what, family: 'matmul', M, Nc, parts, tiles, unit }, { partials: fake, slices: forced }, []);
  const want = c.wantSlices ?? plan.slices;
  const last = parts[parts.length - 1] - (used.partSlices[parts.length - 1] - 1) * used.kSlice;
  if (!used.split || used.slices !== want || want < 2 || last >= used.kSlice || used.kSlice % unit !== 0) {
    throw new Error(`case does not split as meant: ${used.slices} slices of ${used.kSlice} over parts ${parts}, want ${want} with a ragged last`);
  }
  const partials = gpu.upload(new Float32Array(Math.max(floats, 4)).fill(NaN), 'partials');
  return { split: { partials, slices: forced }, buffers: [partials] };
}

const forwardShapes: Shape[] = [
  { N: 1, In: 1, Out: 1 },
  { N: 33, In: 70, Out: 45 },
  { N: 33, In: 70, Out: 45, bias: true },
  { N: 33, In: 70, Out: 45, accumulate: true },
  { N: 33, In: 70, Out: 45, bias: true, accumulate: true },
  { N: 64, In: 64, Out: 64, bias: true },
  { N: 130, In: 97, Out: 200, bias: true, accumulate: true },
  { N: 2, In: 8, Out: 70_000, bias: true }, // LM-head-like: > 1000 tiles along Out
  { N: 130, In: 21, Out: 200, bias: true, maxPerDim: 5 },
  // The 128x128 tile, forced. Out or In not a multiple of 4: its scalar-access form; else vec4.
  { N: 1, In: 1, Out: 1, tile: 128 },
  { N: 130, In: 72, Out: 257, tile: 128 },
  { N: 130, In: 72, Out: 257, bias: true, accumulate: true, tile: 128 },
  { N: 130, In: 97, Out: 200, bias: true, tile: 128 },
  { N: 130, In: 72, Out: 260, tile: 128 },
  { N: 130, In: 72, Out: 260, bias: true, tile: 128 },
  { N: 130, In: 72, Out: 260, accumulate: true, tile: 128 },
  { N: 130, In: 40, Out: 392, bias: true, accumulate: true, maxPerDim: 3, tile: 128 }, // 8 tiles on a 3x3 grid
  { N: 3, In: 600, Out: 20, bias: true, tile: 128 }, // long reduction: many K slices
  { N: 64, In: 64, Out: 64, bias: true, tile: 64 },
];

const backwardShapes: Shape[] = [
  { N: 1, In: 1, Out: 1 },
  { N: 33, In: 70, Out: 45 },
  { N: 33, In: 70, Out: 45, accumulate: true },
  { N: 64, In: 64, Out: 64 },
  { N: 130, In: 200, Out: 97, accumulate: true },
  { N: 3, In: 70, Out: 5000 }, // long reduction (LM head backward)
  { N: 130, In: 200, Out: 21, maxPerDim: 5 },
  { N: 1, In: 1, Out: 1, tile: 128 },
  { N: 130, In: 257, Out: 72, tile: 128 },
  { N: 130, In: 257, Out: 72, accumulate: true, tile: 128 },
  { N: 130, In: 200, Out: 97, tile: 128 },
  { N: 130, In: 260, Out: 72, tile: 128 },
  { N: 130, In: 260, Out: 72, accumulate: true, tile: 128 },
  { N: 130, In: 392, Out: 40, accumulate: true, maxPerDim: 3, tile: 128 },
  { N: 3, In: 20, Out: 600, tile: 128 }, // long reduction: many K slices
  // split-K over Out (slices of 16k rows, the last ragged; partials NaN-filled)
  { N: 33, In: 70, Out: 45, slices: 3 },
  { N: 33, In: 70, Out: 45, accumulate: true, slices: 2 },
  { N: 130, In: 200, Out: 97, accumulate: true, slices: 4, maxPerDim: 5 },
  { N: 3, In: 70, Out: 5000, slices: 'auto' }, // the policy: 9 slices of 560
  { N: 3, In: 70, Out: 5000, accumulate: true, slices: 'auto', room: 3 * 210 + 5, wantSlices: 3 }, // scratch for 3 of 9
  { N: 130, In: 257, Out: 72, slices: 3, tile: 128 },
  { N: 130, In: 260, Out: 72, accumulate: true, slices: 3, tile: 128 },
  { N: 130, In: 392, Out: 40, accumulate: true, maxPerDim: 3, slices: 2, tile: 128 },
  { N: 3, In: 20, Out: 600, slices: 5, tile: 128 },
];

const TOL = 1e-5;

function tileOf(s: Shape): MatmulTile {
  return s.tile ?? 'auto';
}

export const matmulChecks: KernelCheck[] = [
  ...forwardShapes.map(
    (s): KernelCheck => ({
      name: `linear forward ${shapeName(s)}`,
      async run(gpu) {
        const { N, In, Out } = s;
        const inp = randomF32(N * In, 1);
        const w = randomF32(Out * In, 2, 0.5);
        const b = s.bias ? randomF32(Out, 3) : null;
        const out = randomF32(N * Out, 4);
        const bufs = [gpu.upload(out, 'out'), gpu.upload(inp, 'inp'), gpu.upload(w, 'w')];
        const bb = b ? gpu.upload(b, 'bias') : null;
        const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
        await g.run((rec) => linearForward(rec, bufs[0], bufs[1], bufs[2], bb, N, In, Out, s.accumulate ?? false, tileOf(s)));
        const got = await gpu.readF32(bufs[0], N * Out);
        for (const x of bufs) gpu.destroyBuffer(x);
        if (bb) gpu.destroyBuffer(bb);
        linearForwardCpu(out, inp, w, b, N, In, Out, s.accumulate ?? false);
        return { error: relL2Err(got, out), tolerance: TOL };
      },
    }),
  ),
  ...backwardShapes.map(
    (s): KernelCheck => ({
      name: `linear backward input ${shapeName(s)}`,
      async run(gpu) {
        const { N, In, Out } = s;
        const dout = randomF32(N * Out, 5);
        const w = randomF32(Out * In, 6, 0.5);
        const dinp = randomF32(N * In, 7);
        const bufs = [gpu.upload(dinp, 'dinp'), gpu.upload(dout, 'dout'), gpu.upload(w, 'w')];
        const size = resolveMatmulTile(tileOf(s), N, In, gpu.limits, 'check');
        const { split, buffers } = splitScratch(gpu, 'check', s, N, In, [Out], size, MATMUL_TILE.TILE_K);
        const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
        await g.run((rec) => linearBackwardInput(rec, bufs[0], bufs[1], bufs[2], N, In, Out, s.accumulate ?? false, tileOf(s), split));
        const got = await gpu.readF32(bufs[0], N * In);
        for (const x of [...bufs, ...buffers]) gpu.destroyBuffer(x);
        linearBackwardInputCpu(dinp, dout, w, N, In, Out, s.accumulate ?? false);
        return { error: relL2Err(got, dinp), tolerance: TOL };
      },
    }),
  ),
];
