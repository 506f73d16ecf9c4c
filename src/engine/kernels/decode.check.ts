import type { KernelCheck } from './check';
import type { RopeConfig } from '../model/spec';
import { decodeAttention, decodeAttentionCpu, decodeGemv, decodeKvStore, decodeKvStoreCpu, decodeRope, decodeRopeCpu } from './decode';
import { linearForwardCpu } from './matmul';
import { ropeTables } from './rope';
import { maxAbsErr, randn, relL2Err } from './random';

const plain: RopeConfig = { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 0 };
const llama3: RopeConfig = { theta: 500000, type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 };

/** [N rows, Hq, Hkv, D, Tmax, pos, count]: decode steps (N = 1), prefill chunks with padding rows. */
type Shape = [number, number, number, number, number, number, number];
const shapes: Shape[] = [
  [1, 4, 2, 16, 40, 0, 1], // the first token: attends to itself only
  [1, 4, 2, 32, 40, 39, 1], // the last cache slot
  [1, 8, 1, 128, 200, 150, 1], // several key chunks, two dims per invocation
  [8, 4, 2, 16, 64, 3, 5], // a prefill chunk with 3 padding rows
  [16, 3, 3, 64, 160, 70, 16], // rows straddling a key chunk boundary
  [4, 2, 1, 256, 12, 8, 4], // D = 256; the last rows reach Tmax exactly
  [6, 2, 2, 8, 10, 7, 3], // padding rows past Tmax (rope leaves them alone)
];

function label([N, Hq, Hkv, D, Tmax, pos, count]: Shape): string {
  return `N=${N} Hq=${Hq} Hkv=${Hkv} D=${D} Tmax=${Tmax} pos=${pos} count=${count}`;
}

/** Partial rotary (Phi-4-mini: 3/4 of each head): rotated dims R per shape index, the rest pass through. */
const partialRotary: Record<number, number> = { 2: 96, 4: 48, 5: 64 };

const ropeChecks: KernelCheck[] = shapes.map((s, si) => ({
  name: `decode rope ${label(s)}${partialRotary[si] ? ` rotary=${partialRotary[si]}` : ''}`,
  async run(gpu) {
    const [N, Hq, , D, Tmax, pos, count] = s;
    const R = partialRotary[si] ?? D;
    const x = randn(N * Hq * D, 100 + si);
    const { cos, sin } = ropeTables(si % 2 ? llama3 : plain, Tmax, R);
    const state = Uint32Array.of(pos, count);
    const xb = gpu.upload(x, 'x');
    const cb = gpu.upload(cos, 'cos');
    const sb = gpu.upload(sin, 'sin');
    const st = gpu.upload(state, 'state');
    await gpu.run((rec) => decodeRope(rec, xb, cb, sb, st, N, Hq, D, Tmax, R));
    const got = await gpu.readF32(xb, x.length);
    for (const b of [xb, cb, sb, st]) gpu.destroyBuffer(b);
    decodeRopeCpu(x, cos, sin, state, N, Hq, D, Tmax, R);
    return { error: maxAbsErr(got, x), tolerance: 1e-6 };
  },
}));

const storeChecks: KernelCheck[] = shapes.map((s, si) => ({
  name: `decode kv store ${label(s)}`,
  async run(gpu) {
    const [N, , Hkv, D, Tmax, pos, count] = s;
    const kc = randn(Hkv * Tmax * D, 200 + si);
    const vc = randn(Hkv * Tmax * D, 300 + si);
    const k = randn(N * Hkv * D, 400 + si);
    const v = randn(N * Hkv * D, 500 + si);
    const state = Uint32Array.of(pos, count);
    const bufs = [gpu.upload(kc, 'kc'), gpu.upload(vc, 'vc'), gpu.upload(k, 'k'), gpu.upload(v, 'v'), gpu.upload(state, 'state')];
    await gpu.run((rec) => decodeKvStore(rec, bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], N, Hkv, D, Tmax));
    const gotK = await gpu.readF32(bufs[0], kc.length);
    const gotV = await gpu.readF32(bufs[1], vc.length);
    for (const b of bufs) gpu.destroyBuffer(b);
    decodeKvStoreCpu(kc, vc, k, v, state, N, Hkv, D, Tmax);
    return { error: Math.max(maxAbsErr(gotK, kc), maxAbsErr(gotV, vc)), tolerance: 0 };
  },
}));

/** Every shape with plain scores, and some with a sliding window and soft-capping (Gemma). */
const scoreCases: Array<{ s: Shape; window?: number; softcap?: number }> = [
  ...shapes.map((s) => ({ s })),
  { s: shapes[2], window: 37 }, // the window starts inside a later key chunk
  { s: shapes[4], window: 9, softcap: 2 }, // rows straddling a chunk boundary, each with its own window start
  { s: shapes[3], window: 1 },
  { s: shapes[5], softcap: 0.5 },
];

const attentionChecks: KernelCheck[] = scoreCases.map(({ s, window, softcap }, si) => ({
  name: `decode attention ${label(s)}${window ? ` window=${window}` : ''}${softcap ? ` softcap=${softcap}` : ''}`,
  async run(gpu) {
    const [N, Hq, Hkv, D, Tmax, pos, count] = s;
    const q = randn(N * Hq * D, 600 + si);
    const kc = randn(Hkv * Tmax * D, 700 + si);
    const vc = randn(Hkv * Tmax * D, 800 + si);
    const state = Uint32Array.of(pos, count);
    const scores = { scale: 1 / Math.sqrt(D), window, softcap };
    const out = new Float32Array(N * Hq * D).fill(7); // padding rows must come back 0
    const ob = gpu.upload(out, 'out');
    const bufs = [gpu.upload(q, 'q'), gpu.upload(kc, 'kc'), gpu.upload(vc, 'vc'), gpu.upload(state, 'state')];
    await gpu.run((rec) => decodeAttention(rec, ob, bufs[0], bufs[1], bufs[2], bufs[3], N, Hq, Hkv, D, Tmax, scores));
    const got = await gpu.readF32(ob, out.length);
    for (const b of [ob, ...bufs]) gpu.destroyBuffer(b);
    decodeAttentionCpu(out, q, kc, vc, state, N, Hq, Hkv, D, Tmax, scores);
    return { error: maxAbsErr(got, out), tolerance: 2e-6 };
  },
}));

/** [N, In, Out, bias, accumulate]: odd sizes, a row count not a multiple of the 4 per workgroup. */
const gemvShapes: Array<[number, number, number, boolean, boolean]> = [
  [1, 64, 64, false, false],
  [1, 70, 33, true, false],
  [1, 576, 1537, false, true],
  [3, 130, 9, true, true],
  [1, 1, 5, false, false],
];

const gemvChecks: KernelCheck[] = gemvShapes.map(([N, In, Out, hasBias, accumulate], si) => ({
  name: `decode gemv N=${N} In=${In} Out=${Out}${hasBias ? ' bias' : ''}${accumulate ? ' accumulate' : ''}`,
  async run(gpu) {
    const x = randn(N * In, 900 + si);
    const w = randn(Out * In, 1000 + si, 0.1);
    const bias = hasBias ? randn(Out, 1100 + si) : null;
    const out = randn(N * Out, 1200 + si);
    const bufs = [gpu.upload(out, 'out'), gpu.upload(x, 'x'), gpu.upload(w, 'w')];
    const bb = bias ? gpu.upload(bias, 'bias') : null;
    await gpu.run((rec) => decodeGemv(rec, bufs[0], bufs[1], bufs[2], bb, N, In, Out, accumulate));
    const got = await gpu.readF32(bufs[0], out.length);
    for (const b of bb ? [...bufs, bb] : bufs) gpu.destroyBuffer(b);
    linearForwardCpu(out, x, w, bias, N, In, Out, accumulate); // the same product as a linear layer's
    return { error: relL2Err(got, out), tolerance: 1e-6 };
  },
}));

export const decodeChecks: KernelCheck[] = [...ropeChecks, ...storeChecks, ...attentionChecks, ...gemvChecks];
