import type { KernelCheck } from './check';
import { withSmallGrid } from './matmul.check';
import { randomF32, relL2Err } from './random';
import { swigluBackward, swigluBackwardCpu, swigluForward, swigluForwardCpu, type GateActivation } from './swiglu';

const sizes: Array<{ n: number; maxPerDim?: number }> = [{ n: 1 }, { n: 33 * 70 }, { n: 70_001 }, { n: 5000, maxPerDim: 5 }];
const TOL = 1e-5;

/** Gate values spread wide, with a few extremes where a naive exp would overflow. */
function gateValues(n: number): Float32Array {
  const g = randomF32(n, 51, 8);
  const extremes = [-100, -30, 0, 30, 100, -1e-7];
  for (let i = 0; i < Math.min(n, extremes.length); i++) g[(i * 7919) % n] = extremes[i];
  return g;
}

function label(s: { n: number; maxPerDim?: number }, act: GateActivation): string {
  return `${act === 'silu' ? '' : `${act} `}n=${s.n}${s.maxPerDim ? ` grid<=${s.maxPerDim}` : ''}`;
}

/** Every size under both gate activations. */
const cases = (['silu', 'gelu_pytorch_tanh'] as const).flatMap((act) => sizes.map((s) => ({ ...s, act })));

export const swigluChecks: KernelCheck[] = [
  ...cases.map(
    (s): KernelCheck => ({
      name: `swiglu forward ${label(s, s.act)}`,
      async run(gpu) {
        const { n } = s;
        const gate = gateValues(n);
        const up = randomF32(n, 52, 2);
        const ob = gpu.upload(randomF32(n, 53), 'out');
        const gb = gpu.upload(gate, 'gate');
        const ub = gpu.upload(up, 'up');
        const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
        await g.run((rec) => swigluForward(rec, ob, gb, ub, n, s.act));
        const got = await gpu.readF32(ob, n);
        for (const b of [ob, gb, ub]) gpu.destroyBuffer(b);
        const want = new Float32Array(n);
        swigluForwardCpu(want, gate, up, n, s.act);
        return { error: relL2Err(got, want), tolerance: TOL };
      },
    }),
  ),
  ...cases.map(
    (s): KernelCheck => ({
      name: `swiglu backward ${label(s, s.act)}`,
      async run(gpu) {
        const { n } = s;
        const gate = gateValues(n);
        const up = randomF32(n, 54, 2);
        const dout = randomF32(n, 55);
        const bufs = [gpu.upload(randomF32(n, 56), 'dgate'), gpu.upload(randomF32(n, 57), 'dup'), gpu.upload(dout, 'dout'), gpu.upload(gate, 'gate'), gpu.upload(up, 'up')];
        const g = s.maxPerDim ? withSmallGrid(gpu, s.maxPerDim) : gpu;
        await g.run((rec) => swigluBackward(rec, bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], n, s.act));
        const dg = await gpu.readF32(bufs[0], n);
        const du = await gpu.readF32(bufs[1], n);
        for (const b of bufs) gpu.destroyBuffer(b);
        const wdg = new Float32Array(n);
        const wdu = new Float32Array(n);
        swigluBackwardCpu(wdg, wdu, dout, gate, up, n, s.act);
        return { error: Math.max(relL2Err(dg, wdg), relL2Err(du, wdu)), tolerance: TOL };
      },
    }),
  ),
];
