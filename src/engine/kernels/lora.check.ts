import type { Gpu } from '../../gpu/gpu';
import type { KernelCheck } from './check';
import {
  loraDown,
  loraDownCpu,
  loraGradA,
  loraGradACpu,
  loraGradB,
  loraGradBCpu,
  loraGradH,
  loraGradHCpu,
  loraGradInput,
  loraGradInputCpu,
  loraSplitPlan,
  loraSplitScratchFloats,
  loraUp,
  loraUpCpu,
  type LoraDropout,
  type LoraDropoutCpu,
  type LoraSplit,
  type LoraSplitKernel,
} from './lora';
import { withSmallGrid } from './matmul.check';
import { randomF32, relL2Err } from './random';

const TOL = 1e-5;
const SEED = 0x9e3779b9;
const SITE = 13;

interface Case {
  N: number;
  In?: number;
  Out?: number;
  r: number;
  p?: number;
  scale?: number;
  accumulate?: boolean;
  maxPerDim?: number;
  /** Split-K: a forced number of slices, or 'auto' for the policy's own choice (scratch from loraSplitScratchFloats). */
  slices?: number | 'auto';
  /** Split-K scratch floats instead of what the split needs (a smaller one narrows the split). */
  room?: number;
  /** The slices the run must end up with (default: the plan for `slices`). */
  wantSlices?: number;
}

function caseName(c: Case): string {
  const parts = [`N=${c.N}`];
  if (c.In !== undefined) parts.push(`In=${c.In}`);
  if (c.Out !== undefined) parts.push(`Out=${c.Out}`);
  parts.push(`r=${c.r}`);
  if (c.p !== undefined) parts.push(`p=${c.p}`);
  if (c.accumulate) parts.push('accumulate');
  if (c.maxPerDim) parts.push(`grid<=${c.maxPerDim}`);
  if (c.slices !== undefined) parts.push(`split=${c.slices}`);
  if (c.room !== undefined) parts.push(`room=${c.room}`);
  return parts.join(' ');
}

/**
 * The split-K scratch a case runs with (NaN-filled: reading a slot no slice wrote poisons the
 * result), or none. Throws unless the case's split really splits, with a ragged last slice.
 */
function splitScratch(gpu: Gpu, c: Case, kernel: LoraSplitKernel, io: number): { split?: LoraSplit; buffers: GPUBuffer[] } {
  if (c.slices === undefined) return { buffers: [] };
  const forced = c.slices === 'auto' ? undefined : c.slices;
  const plan = loraSplitPlan(kernel, c.N, io, c.r, forced);
  const floats = c.room ?? (forced === undefined ? loraSplitScratchFloats(c.N, c.r, [[io, io]]) : plan.partialFloats);
  const want = c.wantSlices ?? plan.slices;
  const used = c.room === undefined ? plan : loraSplitPlan(kernel, c.N, io, c.r, Math.floor(floats / (plan.M * plan.Nc)));
  if (used.slices !== want || want < 2 || used.K - (used.slices - 1) * used.kSlice >= used.kSlice) {
    throw new Error(`case does not split as meant: ${used.slices} slices of ${used.kSlice} over K=${used.K}, want ${want} with a ragged last`);
  }
  const partials = gpu.upload(new Float32Array(Math.max(floats, 4)).fill(NaN), 'partials');
  return { split: { partials, slices: forced }, buffers: [partials] };
}

/** Uploads, runs `fn` on the (maybe grid-limited) GPU, reads `out` back, frees everything. */
async function runGpu(
  gpu: Gpu,
  c: Case,
  out: Float32Array,
  inputs: Float32Array[],
  fn: (g: Gpu, out: GPUBuffer, ins: GPUBuffer[], dropout: LoraDropout, split?: LoraSplit) => Promise<void>,
  splitFor?: [LoraSplitKernel, number],
): Promise<Float32Array> {
  const ob = gpu.upload(out, 'out');
  const ins = inputs.map((x, i) => gpu.upload(x, `in${i}`));
  const seed = gpu.upload(new Uint32Array([SEED]), 'seed');
  const { split, buffers } = splitFor ? splitScratch(gpu, c, ...splitFor) : { split: undefined, buffers: [] };
  const g = c.maxPerDim ? withSmallGrid(gpu, c.maxPerDim) : gpu;
  await fn(g, ob, ins, { p: c.p ?? 0, seed, site: SITE }, split);
  const got = await gpu.readF32(ob, out.length);
  for (const b of [ob, seed, ...ins, ...buffers]) gpu.destroyBuffer(b);
  return got;
}

function cpuDropout(c: Case): LoraDropoutCpu {
  return { p: c.p ?? 0, seed: new Uint32Array([SEED]), site: SITE };
}

/** Relative L2 error of what was added onto `init` (the accumulated term alone, not diluted by init). */
function deltaErr(got: Float32Array, want: Float32Array, init: Float32Array): number {
  return relL2Err(
    got.map((v, i) => v - init[i]),
    want.map((v, i) => v - init[i]),
  );
}

function check(kernel: string, c: Case, run: (gpu: Gpu) => Promise<number>): KernelCheck {
  return { name: `lora ${kernel} ${caseName(c)}`, run: async (gpu) => ({ error: await run(gpu), tolerance: TOL }) };
}

const downCases: Case[] = [
  { N: 1, In: 1, r: 1 },
  { N: 33, In: 70, r: 3 },
  { N: 33, In: 70, r: 3, p: 0.3 },
  { N: 130, In: 200, r: 16, p: 0.1 },
  { N: 5, In: 64, r: 64, p: 0.05 },
  { N: 9, In: 40, r: 70 }, // r past one tile
  { N: 130, In: 21, r: 8, p: 0.3, maxPerDim: 2 },
  // split-K over In (ragged last slice)
  { N: 33, In: 70, r: 3, p: 0.3, slices: 3 },
  { N: 130, In: 200, r: 16, p: 0.1, slices: 4 },
  { N: 9, In: 100, r: 70, slices: 2 },
  { N: 130, In: 90, r: 5, p: 0.3, slices: 3, maxPerDim: 5 },
  { N: 64, In: 300, r: 4, p: 0.3, slices: 'auto' },
];

const upCases: Case[] = [
  // N ≤ 4: lora_up_rows (decoding), with a folded grid too
  { N: 1, Out: 1, r: 1, scale: 2 },
  { N: 1, Out: 1537, r: 16, scale: 2 },
  { N: 4, Out: 300, r: 64, scale: 1 / 8 },
  { N: 3, Out: 400, r: 8, scale: 2, maxPerDim: 5 },
  // the tiled GEMM
  { N: 33, Out: 45, r: 3, scale: 0.5 },
  { N: 130, Out: 200, r: 16, scale: 2 },
  { N: 7, Out: 300, r: 64, scale: 1 / 8 },
  { N: 130, Out: 200, r: 5, scale: 2, maxPerDim: 5 },
];

const gradBCases: Case[] = [
  { N: 33, Out: 45, r: 3, scale: 0.5 },
  { N: 33, Out: 45, r: 3, scale: 0.5, accumulate: true },
  { N: 300, Out: 20, r: 5, scale: 2, accumulate: true }, // long reduction over tokens
  { N: 130, Out: 97, r: 16, scale: 2 },
  { N: 17, Out: 70, r: 40, scale: 1 },
  { N: 40, Out: 200, r: 3, scale: 2, maxPerDim: 2 },
  // split-K over N (ragged last slice)
  { N: 33, Out: 45, r: 3, scale: 0.5, slices: 2 },
  { N: 33, Out: 45, r: 3, scale: 0.5, accumulate: true, slices: 2 },
  { N: 300, Out: 20, r: 5, scale: 2, accumulate: true, slices: 4 },
  { N: 130, Out: 97, r: 16, scale: 2, slices: 5 },
  { N: 40, Out: 140, r: 3, scale: 2, accumulate: true, slices: 3, maxPerDim: 5 },
  { N: 500, Out: 30, r: 4, scale: 2, accumulate: true, slices: 'auto' },
];

const gradHCases: Case[] = [
  { N: 33, Out: 45, r: 3, scale: 0.5 },
  { N: 130, Out: 97, r: 16, scale: 2 },
  { N: 3, Out: 1000, r: 8, scale: 2 },
  { N: 200, Out: 30, r: 3, scale: 2, maxPerDim: 2 },
  // split-K over Out (ragged last slice)
  { N: 33, Out: 45, r: 3, scale: 0.5, slices: 2 },
  { N: 130, Out: 97, r: 16, scale: 2, slices: 3 },
  { N: 130, Out: 70, r: 3, scale: 2, slices: 3, maxPerDim: 5 },
  { N: 64, Out: 300, r: 4, scale: 2, slices: 'auto' },
];

const gradACases: Case[] = [
  { N: 33, In: 70, r: 3 },
  { N: 33, In: 70, r: 3, accumulate: true },
  { N: 33, In: 70, r: 3, p: 0.3 },
  { N: 33, In: 70, r: 3, p: 0.3, accumulate: true },
  { N: 300, In: 50, r: 8, p: 0.3, accumulate: true }, // long reduction over tokens
  { N: 20, In: 130, r: 64, p: 0.1 },
  { N: 30, In: 300, r: 3, p: 0.3, maxPerDim: 3 },
  // split-K over N (ragged last slice)
  { N: 33, In: 70, r: 3, p: 0.3, slices: 2 },
  { N: 33, In: 70, r: 3, p: 0.3, accumulate: true, slices: 2 },
  { N: 33, In: 70, r: 3, accumulate: true, slices: 2 },
  { N: 300, In: 50, r: 8, p: 0.3, accumulate: true, slices: 5 },
  { N: 70, In: 130, r: 64, p: 0.1, slices: 3 },
  { N: 60, In: 300, r: 3, p: 0.3, accumulate: true, slices: 2, maxPerDim: 4 },
  { N: 1000, In: 20, r: 3, p: 0.3, accumulate: true, slices: 'auto' },
  // scratch too small for the policy's 7 slices: narrowed to the 2 that fit
  { N: 1000, In: 20, r: 3, p: 0.3, accumulate: true, slices: 'auto', room: 130, wantSlices: 2 },
];

const gradInputCases: Case[] = [
  { N: 33, In: 70, r: 3 },
  { N: 33, In: 70, r: 3, p: 0.3 },
  { N: 130, In: 200, r: 16, p: 0.1 },
  { N: 5, In: 40, r: 64, p: 0.5 },
  { N: 130, In: 200, r: 3, p: 0.3, maxPerDim: 5 },
];

export const loraChecks: KernelCheck[] = [
  ...downCases.map((c) =>
    check('down', c, async (gpu) => {
      const { N, In = 0, r } = c;
      const inp = randomF32(N * In, 71);
      const A = randomF32(r * In, 72, 0.5);
      const h = randomF32(N * r, 73);
      const got = await runGpu(gpu, c, h, [inp, A], (g, ob, [ib, ab], d, sp) => g.run((rec) => loraDown(rec, ob, ib, ab, N, In, r, d, sp)), ['down', In]);
      loraDownCpu(h, inp, A, N, In, r, cpuDropout(c));
      return relL2Err(got, h);
    }),
  ),
  // With A = I, h is dropout(x) itself: the GPU mask must match loraKeepMaskCpu element for element.
  check('down mask identity', { N: 50, In: 37, r: 37, p: 0.3 }, async (gpu) => {
    const [N, In, r] = [50, 37, 37];
    const c: Case = { N, In, r, p: 0.3 };
    const inp = randomF32(N * In, 74);
    for (let i = 0; i < inp.length; i++) if (inp[i] === 0) inp[i] = 1;
    const A = new Float32Array(r * In);
    for (let j = 0; j < r; j++) A[j * In + j] = 1;
    const h = new Float32Array(N * r);
    const got = await runGpu(gpu, c, h, [inp, A], (g, ob, [ib, ab], d) => g.run((rec) => loraDown(rec, ob, ib, ab, N, In, r, d)));
    loraDownCpu(h, inp, A, N, In, r, cpuDropout(c));
    let mismatched = 0;
    let dropped = 0;
    for (let i = 0; i < h.length; i++) {
      if ((got[i] === 0) !== (h[i] === 0)) mismatched++;
      if (h[i] === 0) dropped++;
    }
    // The mask must actually drop something near p of the elements.
    const fractionOff = Math.abs(dropped / h.length - 0.3) > 0.05 ? 1 : 0;
    return mismatched + fractionOff + relL2Err(got, h);
  }),
  ...upCases.map((c) =>
    check('up', c, async (gpu) => {
      const { N, Out = 0, r } = c;
      const scale = c.scale ?? 1;
      const h = randomF32(N * r, 75);
      const B = randomF32(Out * r, 76, 0.5);
      const out = randomF32(N * Out, 77);
      const init = out.slice();
      const got = await runGpu(gpu, c, out, [h, B], (g, ob, [hb, bb]) => g.run((rec) => loraUp(rec, ob, hb, bb, N, Out, r, scale)));
      loraUpCpu(out, h, B, N, Out, r, scale);
      return deltaErr(got, out, init);
    }),
  ),
  ...gradBCases.map((c) =>
    check('gradB', c, async (gpu) => {
      const { N, Out = 0, r } = c;
      const scale = c.scale ?? 1;
      const dout = randomF32(N * Out, 78);
      const h = randomF32(N * r, 79);
      const dB = randomF32(Out * r, 80);
      const init = c.accumulate ? dB.slice() : new Float32Array(dB.length);
      const acc = c.accumulate ?? false;
      const got = await runGpu(gpu, c, dB, [dout, h], (g, ob, [db, hb], _d, sp) => g.run((rec) => loraGradB(rec, ob, db, hb, N, Out, r, scale, acc, sp)), [
        'gradB',
        Out,
      ]);
      loraGradBCpu(dB, dout, h, N, Out, r, scale, acc);
      return deltaErr(got, dB, init);
    }),
  ),
  ...gradHCases.map((c) =>
    check('gradH', c, async (gpu) => {
      const { N, Out = 0, r } = c;
      const scale = c.scale ?? 1;
      const dout = randomF32(N * Out, 81);
      const B = randomF32(Out * r, 82);
      const dh = randomF32(N * r, 83);
      const got = await runGpu(gpu, c, dh, [dout, B], (g, ob, [db, bb], _d, sp) => g.run((rec) => loraGradH(rec, ob, db, bb, N, Out, r, scale, sp)), [
        'gradH',
        Out,
      ]);
      loraGradHCpu(dh, dout, B, N, Out, r, scale);
      return relL2Err(got, dh);
    }),
  ),
  ...gradACases.map((c) =>
    check('gradA', c, async (gpu) => {
      const { N, In = 0, r } = c;
      const dh = randomF32(N * r, 84);
      const inp = randomF32(N * In, 85);
      const dA = randomF32(r * In, 86);
      const init = c.accumulate ? dA.slice() : new Float32Array(dA.length);
      const acc = c.accumulate ?? false;
      const got = await runGpu(gpu, c, dA, [dh, inp], (g, ob, [hb, ib], d, sp) => g.run((rec) => loraGradA(rec, ob, hb, ib, N, In, r, d, acc, sp)), [
        'gradA',
        In,
      ]);
      loraGradACpu(dA, dh, inp, N, In, r, cpuDropout(c), acc);
      return deltaErr(got, dA, init);
    }),
  ),
  ...gradInputCases.map((c) =>
    check('gradInput', c, async (gpu) => {
      const { N, In = 0, r } = c;
      const dh = randomF32(N * r, 87);
      const A = randomF32(r * In, 88);
      const dinp = randomF32(N * In, 89);
      const init = dinp.slice();
      const got = await runGpu(gpu, c, dinp, [dh, A], (g, ob, [hb, ab], d) => g.run((rec) => loraGradInput(rec, ob, hb, ab, N, In, r, d)));
      loraGradInputCpu(dinp, dh, A, N, In, r, cpuDropout(c));
      // Dropped elements must be left exactly as they were.
      let touched = 0;
      for (let i = 0; i < dinp.length; i++) if (dinp[i] === init[i] && got[i] !== init[i]) touched++;
      return touched + deltaErr(got, dinp, init);
    }),
  ),
];
