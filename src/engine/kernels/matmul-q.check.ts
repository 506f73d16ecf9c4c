// Quantized matmuls and embedding: GPU against the CPU twin on the same quantized weights.
// Error: relative L2 against the CPU result; tolerance 1e-4 (the bound the quantized base is held to).
import type { KernelCheck } from './check';
import type { Gpu } from '../../gpu/gpu';
import {
  destroyQuantWeight,
  embeddingForwardQ,
  embeddingForwardQCpu,
  linearBackwardInputQ,
  linearBackwardInputQCpu,
  linearForwardQ,
  linearForwardQCpu,
  linearGemvQ,
  quantWeightParts,
  uploadQuantWeight,
} from './matmul-q';
import { quantize, wordsPerRow, type QuantKind } from '../../quant/format';
import { splitScratch } from './matmul.check';
import { resolveMatmulTile } from './matmul-tile128';
import { randn, relL2Err, rng } from './random';

const TOL = 1e-4;

interface LinearCase {
  N: number;
  In: number;
  Out: number;
  bias?: boolean;
  accumulate?: boolean;
  /** Forces the row split: a binding may hold this many rows' codes. */
  splitRows?: number;
  /** Expected number of parts when split. */
  parts?: number;
  /** Force a tile size (default 'auto', which picks 64 at these sizes). */
  tile?: 64 | 128;
  /** Backward only: split-K, a forced number of slices or 'auto' (the policy). */
  slices?: number | 'auto';
  /** Split-K scratch floats instead of what the split needs (a smaller one narrows the split). */
  room?: number;
  /** The slices the run must end up with (default: the plan for `slices`). */
  wantSlices?: number;
}

const linearCases: LinearCase[] = [
  { N: 1, In: 32, Out: 1 },
  { N: 5, In: 70, Out: 33, bias: true },
  { N: 64, In: 64, Out: 64 },
  { N: 67, In: 96, Out: 130, accumulate: true },
  { N: 9, In: 200, Out: 48, bias: true, accumulate: true },
  { N: 7, In: 70, Out: 200, bias: true, splitRows: 64, parts: 4 },
  // The 128x128 tile, forced. In not a multiple of 4 (or a part's rows / row offset not): its
  // scalar-access form; otherwise vec4. In not a multiple of 32: padded last block.
  { N: 1, In: 32, Out: 1, tile: 128 },
  { N: 130, In: 70, Out: 257, tile: 128 },
  { N: 130, In: 70, Out: 257, bias: true, accumulate: true, tile: 128 },
  { N: 130, In: 72, Out: 260, bias: true, tile: 128 },
  { N: 130, In: 72, Out: 260, accumulate: true, tile: 128 },
  { N: 3, In: 600, Out: 20, bias: true, tile: 128 }, // long forward reduction
  { N: 3, In: 40, Out: 600, tile: 128 }, // long backward reduction
  { N: 130, In: 72, Out: 200, bias: true, accumulate: true, splitRows: 64, parts: 4, tile: 128 },
  { N: 130, In: 2048, Out: 130, splitRows: 52, parts: 3, tile: 128 }, // parts of 52, 52, 26 rows
  { N: 130, In: 2048, Out: 130, bias: true, accumulate: true, splitRows: 50, parts: 3, tile: 128 }, // row offsets 50, 100
];

// Backward split-K over Out: slices of 32k rows, the last of a part ragged; partials NaN-filled.
// With parts, each part's rows are cut into slices of their own (slots part by part).
const splitCases: LinearCase[] = [
  { N: 5, In: 70, Out: 200, slices: 3 }, // 96, 96, 8
  { N: 67, In: 96, Out: 130, accumulate: true, slices: 2 }, // 96, 34
  { N: 3, In: 64, Out: 3000, slices: 'auto' }, // the policy: 5 slices of 608
  { N: 3, In: 64, Out: 3000, accumulate: true, slices: 'auto', room: 3 * 192 + 1, wantSlices: 3 }, // scratch for 3 of 5
  { N: 7, In: 70, Out: 200, splitRows: 64, parts: 4, slices: 8 }, // parts 64, 64, 64, 8 → 2 + 2 + 2 + 1 slices
  { N: 7, In: 70, Out: 200, accumulate: true, splitRows: 64, parts: 4, slices: 8 },
  { N: 130, In: 70, Out: 257, slices: 3, tile: 128 }, // scalar form
  { N: 130, In: 72, Out: 260, accumulate: true, slices: 3, tile: 128 }, // vec4 form
  { N: 130, In: 72, Out: 200, accumulate: true, splitRows: 64, parts: 4, slices: 7, tile: 128 },
  { N: 130, In: 256, Out: 130, accumulate: true, splitRows: 52, parts: 3, slices: 5, tile: 128 }, // parts 48, 48, 34 (aligned) → 2 + 2 + 2
];

function caseName(c: LinearCase): string {
  return (
    `N=${c.N} In=${c.In} Out=${c.Out}${c.bias ? ' bias' : ''}${c.accumulate ? ' acc' : ''}${c.parts ? ` split=${c.parts}` : ''}${c.tile ? ` tile=${c.tile}` : ''}` +
    `${c.slices !== undefined ? ` slices=${c.slices}` : ''}${c.room !== undefined ? ` room=${c.room}` : ''}`
  );
}

async function withWeight<T>(gpu: Gpu, kind: QuantKind, rows: number, cols: number, seed: number, splitRows: number | undefined, fn: (w: ReturnType<typeof uploadQuantWeight>, qt: ReturnType<typeof quantize>) => Promise<T>): Promise<T> {
  const qt = quantize(randn(rows * cols, seed, 0.1), rows, cols, kind);
  const w = uploadQuantWeight(gpu, qt, 'w');
  if (splitRows) w.maxBindingBytes = splitRows * wordsPerRow(kind, cols) * 4;
  try {
    return await fn(w, qt);
  } finally {
    destroyQuantWeight(gpu, w);
  }
}

function expectParts(gpu: Gpu, w: ReturnType<typeof uploadQuantWeight>, parts: number | undefined): void {
  if (parts === undefined) return;
  const got = quantWeightParts(gpu, w).length;
  if (got !== parts) throw new Error(`expected the weight split into ${parts} bindings, got ${got}`);
}

const kinds: QuantKind[] = ['int8', 'int4'];

/** out (N, Out) = x · Wᵀ (+ bias) (+ out) by the tiled kernels or the decoding GEMV, against the CPU twin. */
function forwardCheck(kind: QuantKind, c: LinearCase, gemv: boolean): KernelCheck {
  return {
    name: `linear_q ${gemv ? 'gemv' : 'forward'} ${kind} ${caseName(c)}`,
    async run(gpu: Gpu) {
      const { N, In, Out } = c;
      return withWeight(gpu, kind, Out, In, N * 7 + In, c.splitRows, async (w, qt) => {
        expectParts(gpu, w, c.parts);
        const x = randn(N * In, 11 + N);
        const bias = c.bias ? randn(Out, 13) : null;
        const out0 = randn(N * Out, 17);
        const xb = gpu.upload(x, 'x');
        const bb = bias ? gpu.upload(bias, 'bias') : null;
        const ob = gpu.upload(out0, 'out');
        const accumulate = c.accumulate ?? false;
        await gpu.run((rec) =>
          gemv ? linearGemvQ(rec, ob, xb, w, bb, N, In, Out, accumulate) : linearForwardQ(rec, ob, xb, w, bb, N, In, Out, accumulate, c.tile ?? 'auto'),
        );
        const got = await gpu.readF32(ob, N * Out);
        for (const b of [xb, ob, bb]) if (b) gpu.destroyBuffer(b);
        const want = out0.slice();
        linearForwardQCpu(want, x, qt, bias, N, In, Out, accumulate);
        return { error: relL2Err(got, want), tolerance: TOL };
      });
    },
  };
}

// The decoding GEMV: a few token rows; In not a multiple of 32 (padded last block), Out not a
// multiple of the rows per workgroup, row parts with offsets.
const gemvCases: LinearCase[] = [
  { N: 1, In: 32, Out: 1 },
  { N: 1, In: 70, Out: 33, bias: true },
  { N: 2, In: 2048, Out: 130, accumulate: true },
  { N: 1, In: 600, Out: 5, bias: true, accumulate: true },
  { N: 3, In: 72, Out: 200, bias: true, accumulate: true, splitRows: 64, parts: 4 },
];

const forwardChecks = kinds.flatMap((kind) => linearCases.map((c) => forwardCheck(kind, c, false)));
const gemvChecks = kinds.flatMap((kind) => gemvCases.map((c) => forwardCheck(kind, c, true)));

const backwardChecks: KernelCheck[] = kinds.flatMap((kind) =>
  [...linearCases, ...splitCases].map((c) => ({
    name: `linear_q backward input ${kind} ${caseName({ ...c, bias: false })}`,
    async run(gpu: Gpu) {
      const { N, In, Out } = c;
      return withWeight(gpu, kind, Out, In, N * 5 + Out, c.splitRows, async (w, qt) => {
        expectParts(gpu, w, c.parts);
        const dout = randn(N * Out, 23 + N);
        const dinp0 = randn(N * In, 29);
        const db = gpu.upload(dout, 'dout');
        const ib = gpu.upload(dinp0, 'dinp');
        const size = resolveMatmulTile(c.tile ?? 'auto', N, In, gpu.limits, 'check');
        const rows = quantWeightParts(gpu, w).map((p) => p.rows);
        const { split, buffers } = splitScratch(gpu, 'check', c, N, In, rows, size, 32);
        await gpu.run((rec) => linearBackwardInputQ(rec, ib, db, w, N, In, Out, c.accumulate ?? false, c.tile ?? 'auto', split));
        const got = await gpu.readF32(ib, N * In);
        for (const b of [db, ib, ...buffers]) gpu.destroyBuffer(b);
        const want = dinp0.slice();
        linearBackwardInputQCpu(want, dout, qt, N, In, Out, c.accumulate ?? false);
        return { error: relL2Err(got, want), tolerance: TOL };
      });
    },
  })),
);

interface EmbCase {
  N: number;
  vocab: number;
  C: number;
  splitRows?: number;
  parts?: number;
}

const embCases: EmbCase[] = [
  { N: 1, vocab: 10, C: 32 },
  { N: 37, vocab: 100, C: 70 },
  { N: 50, vocab: 300, C: 40, splitRows: 64, parts: 5 },
];

const embeddingChecks: KernelCheck[] = kinds.flatMap((kind) =>
  embCases.map((c) => ({
    name: `embedding_q ${kind} N=${c.N} vocab=${c.vocab} C=${c.C}${c.parts ? ` split=${c.parts}` : ''}`,
    async run(gpu: Gpu) {
      const { N, vocab, C } = c;
      return withWeight(gpu, kind, vocab, C, vocab + C, c.splitRows, async (w, qt) => {
        expectParts(gpu, w, c.parts);
        const r = rng(N);
        const ids = new Uint32Array(N);
        for (let n = 0; n < N; n++) ids[n] = Math.floor(r() * vocab);
        if (N > 2) {
          ids[0] = 0xffffffff; // ids past the table give zeros
          ids[1] = vocab;
          ids[2] = vocab - 1;
        }
        const idb = gpu.upload(ids, 'ids');
        const ob = gpu.upload(randn(N * C, 3), 'out');
        await gpu.run((rec) => embeddingForwardQ(rec, ob, idb, w, N, C));
        const got = await gpu.readF32(ob, N * C);
        gpu.destroyBuffer(idb);
        gpu.destroyBuffer(ob);
        const want = new Float32Array(N * C);
        embeddingForwardQCpu(want, ids, qt, N, C);
        return { error: relL2Err(got, want), tolerance: TOL };
      });
    },
  })),
);

export const matmulQChecks: KernelCheck[] = [...forwardChecks, ...gemvChecks, ...backwardChecks, ...embeddingChecks];
