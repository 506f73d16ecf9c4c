import type { KernelCheck } from './check';
import type { RopeConfig } from '../model/spec';
import { ropeBackward, ropeBackwardCpu, ropeForward, ropeForwardCpu, ropeTables } from './rope';
import { maxAbsErr, randn } from './random';

const llama3: RopeConfig = {
  theta: 500000,
  type: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 64,
};
const plain: RopeConfig = { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 0 };

// [B, T, H, D, rope]: ragged token counts, odd head counts, D/2 odd.
const shapes: Array<[number, number, number, number, RopeConfig]> = [
  [1, 1, 1, 2, plain],
  [2, 13, 3, 16, plain],
  [3, 20, 5, 32, llama3],
  [1, 7, 2, 6, plain],
  [2, 33, 4, 128, llama3],
];

function ropeCheck(backward: boolean, [B, T, H, D, rope]: [number, number, number, number, RopeConfig]): KernelCheck {
  return {
    name: `rope ${backward ? 'backward' : 'forward'} B=${B} T=${T} H=${H} D=${D} ${rope.type}`,
    async run(gpu) {
      const n = B * T * H * D;
      const x = randn(n, 11 + T + D, 1);
      const { cos, sin } = ropeTables(rope, T, D);
      const xb = gpu.upload(x, 'x');
      const cb = gpu.upload(cos, 'cos');
      const sb = gpu.upload(sin, 'sin');
      await gpu.run((rec) => (backward ? ropeBackward : ropeForward)(rec, xb, cb, sb, B, T, H, D));
      const got = await gpu.readF32(xb, n);
      for (const b of [xb, cb, sb]) gpu.destroyBuffer(b);
      (backward ? ropeBackwardCpu : ropeForwardCpu)(x, cos, sin, B, T, H, D);
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
    const xb = gpu.upload(x, 'x');
    const cb = gpu.upload(cos, 'cos');
    const sb = gpu.upload(sin, 'sin');
    await gpu.run((rec) => {
      ropeForward(rec, xb, cb, sb, B, T, H, D);
      ropeBackward(rec, xb, cb, sb, B, T, H, D);
    });
    const got = await gpu.readF32(xb, n);
    for (const b of [xb, cb, sb]) gpu.destroyBuffer(b);
    return { error: maxAbsErr(got, x), tolerance: 2e-6 };
  },
};

export const ropeChecks: KernelCheck[] = [
  ...shapes.map((s) => ropeCheck(false, s)),
  ...shapes.map((s) => ropeCheck(true, s)),
  roundTrip,
];
