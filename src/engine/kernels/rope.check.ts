import type { KernelCheck } from './check';
import type { RopeConfig } from '../model/spec';
import { ropeBackward, ropeBackwardCpu, ropeForward, ropeForwardCpu, ropeTables } from './rope';
import { maxAbsErr, randn } from './random';
import { rowPositions, segmentPositions } from './positions';

const llama3: RopeConfig = {
  theta: 500000,
  type: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 64,
};
const plain: RopeConfig = { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 0 };

/** [B, T, H, D, rope, R rotated dims (partial rotary; absent = D)]. */
type Shape = [number, number, number, number, RopeConfig, number?];

/** Phi-3's LongRoPE with short factors (tables of a sequence within original_max_position_embeddings). */
export const longrope: RopeConfig = {
  theta: 10000,
  type: 'longrope',
  factor: 4,
  lowFreqFactor: 1,
  highFreqFactor: 1,
  originalMaxPositionEmbeddings: 16,
  attentionFactor: Math.sqrt(1 + Math.log(4) / Math.log(16)),
  longrope: { shortFactor: [1, 1.5, 2, 3, 5, 8], longFactor: [1, 2, 4, 8, 16, 32] },
};

// [B, T, H, D, rope]: ragged token counts, odd head counts, D/2 odd; positions 0..T-1 per row.
const shapes: Shape[] = [
  [1, 1, 1, 2, plain],
  [2, 13, 3, 16, plain],
  [3, 20, 5, 32, llama3],
  [1, 7, 2, 6, plain],
  [2, 33, 4, 128, llama3],
  // Partial rotary (Phi-4-mini: 96 of 128), the rest of each head passes through; LongRoPE tables.
  [2, 13, 3, 16, longrope, 12],
  [1, 20, 3, 128, plain, 96],
  [2, 7, 2, 6, plain, 2],
];

// Packed rows: several examples per row restarting at 0, a one-token example, padding at the tail.
const packed: Array<[Shape, number[][]]> = [
  [[3, 20, 3, 16, llama3], [[7, 1, 12], [5, 9, 3], [11]]],
  [[1, 9, 2, 6, plain], [[1, 1, 1, 4]]],
  [[2, 11, 2, 16, longrope, 12], [[4, 7], [11]]],
];

function ropeCheck(backward: boolean, [B, T, H, D, rope, R = D]: Shape, rows?: number[][]): KernelCheck {
  const layout = rows ? ` packed ${rows.map((r) => r.join('+')).join(' | ')}` : '';
  return {
    name: `rope ${backward ? 'backward' : 'forward'} B=${B} T=${T} H=${H} D=${D}${R !== D ? ` rotary=${R}` : ''} ${rope.type}${layout}`,
    async run(gpu) {
      const n = B * T * H * D;
      const x = randn(n, 11 + T + D, 1);
      const { cos, sin } = ropeTables(rope, T, R);
      const positions = rows ? segmentPositions(T, rows) : rowPositions(B, T);
      const bufs = { x: gpu.upload(x, 'x'), cos: gpu.upload(cos, 'cos'), sin: gpu.upload(sin, 'sin'), positions: gpu.upload(positions, 'positions') };
      await gpu.run((rec) => (backward ? ropeBackward : ropeForward)(rec, bufs, B, T, H, D, R));
      const got = await gpu.readF32(bufs.x, n);
      for (const b of Object.values(bufs)) gpu.destroyBuffer(b);
      (backward ? ropeBackwardCpu : ropeForwardCpu)({ x, cos, sin, positions }, B, T, H, D, R);
      return { error: maxAbsErr(got, x), tolerance: 1e-6 };
    },
  };
}

/** Forward then backward on the GPU gives back the input (the rotation is orthogonal). */
const roundTrip: KernelCheck = {
  name: 'rope forward then backward is the identity B=2 T=20 H=3 D=64',
  async run(gpu) {
    const [B, T, H, D] = [2, 20, 3, 64];
    const n = B * T * H * D;
    const x = randn(n, 5);
    const { cos, sin } = ropeTables(llama3, T, D);
    const bufs = { x: gpu.upload(x, 'x'), cos: gpu.upload(cos, 'cos'), sin: gpu.upload(sin, 'sin'), positions: gpu.upload(segmentPositions(T, [[4, 9], [20]]), 'positions') };
    await gpu.run((rec) => {
      ropeForward(rec, bufs, B, T, H, D);
      ropeBackward(rec, bufs, B, T, H, D);
    });
    const got = await gpu.readF32(bufs.x, n);
    for (const b of Object.values(bufs)) gpu.destroyBuffer(b);
    return { error: maxAbsErr(got, x), tolerance: 2e-6 };
  },
};

export const ropeChecks: KernelCheck[] = [
  ...shapes.map((s) => ropeCheck(false, s)),
  ...shapes.map((s) => ropeCheck(true, s)),
  ...packed.map(([s, rows]) => ropeCheck(false, s, rows)),
  ...packed.map(([s, rows]) => ropeCheck(true, s, rows)),
  roundTrip,
];
