import type { KernelCheck } from './check';
import {
  attentionBackwardCpu,
  attentionBackwardTiled,
  attentionForwardCpu,
  attentionForwardTiled,
  attentionTiles,
  type AttentionShape,
  type AttentionTiles,
} from './attention';
import { maxAbsErr, randn, relL2Err } from './random';
import { rowPositions, segmentPositions } from './positions';
import type { Gpu } from '../../gpu/gpu';

interface AttentionCase {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  /** Valid (right-padded) length of each batch row, or an explicit mask (B*T). */
  lens?: number[];
  mask?: number[];
  /** Packed rows: the example lengths of each row (positions restart at 0 for each; the rest of
   *  a row is one more example, padding where the mask says so). Default: one example per row. */
  rows?: number[][];
  /** Standard deviation of q and k (larger: peakier softmax). */
  std?: number;
  /** Tile choice: the device's (default), the 16 KiB-budget choice, or explicit tiles. */
  tiles?: 'small' | AttentionTiles;
  label?: string;
  /** Sliding window and soft-capping (Mistral, Gemma). */
  window?: number;
  softcap?: number;
}

function attentionMask(c: AttentionCase): Uint32Array {
  if (c.mask) return Uint32Array.from(c.mask);
  const m = new Uint32Array(c.B * c.T);
  const lens = c.lens ?? new Array<number>(c.B).fill(c.T);
  for (let b = 0; b < c.B; b++) for (let t = 0; t < lens[b]; t++) m[b * c.T + t] = 1;
  return m;
}

function tilesFor(gpu: Gpu, c: AttentionCase): AttentionTiles {
  if (c.tiles === 'small') {
    return attentionTiles(c.D, {
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
    });
  }
  return c.tiles ?? attentionTiles(c.D, gpu.limits);
}

function caseName(c: AttentionCase): string {
  const lens = c.mask ? 'mask' : `lens=[${(c.lens ?? []).join(',')}]`;
  const tiles = c.tiles === undefined ? '' : c.tiles === 'small' ? ' 16KiB tiles' : ' odd tiles';
  const packed = c.rows ? ` packed ${c.rows.map((r) => r.join('+')).join(' | ')}` : '';
  const gemma = `${c.window ? ` window=${c.window}` : ''}${c.softcap ? ` softcap=${c.softcap}` : ''}`;
  return `B=${c.B} T=${c.T} Hq=${c.Hq} Hkv=${c.Hkv} D=${c.D} ${lens}${packed}${tiles}${gemma}${c.label ? ` ${c.label}` : ''}`;
}

function inputs(c: AttentionCase) {
  const { B, T, Hq, Hkv, D } = c;
  const std = c.std ?? 1;
  const seed = B * 1000 + T * 10 + D + Hq;
  return {
    q: randn(B * T * Hq * D, seed + 1, std),
    k: randn(B * T * Hkv * D, seed + 2, std),
    v: randn(B * T * Hkv * D, seed + 3),
    dout: randn(B * T * Hq * D, seed + 4),
    mask: attentionMask(c),
    positions: c.rows ? segmentPositions(T, c.rows) : rowPositions(B, T),
    scale: 1 / Math.sqrt(D),
  };
}

/** The case's AttentionShape. */
function shapeOf(c: AttentionCase, scale: number): AttentionShape {
  return { B: c.B, T: c.T, Hq: c.Hq, Hkv: c.Hkv, D: c.D, scale, window: c.window, softcap: c.softcap };
}

function peakAbs(a: Float32Array, floor: number): number {
  let m = floor;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

const nanFilled = (n: number): Float32Array => new Float32Array(n).fill(Number.NaN);

function attentionForwardCheck(c: AttentionCase): KernelCheck {
  return {
    name: `attention forward ${caseName(c)}`,
    async run(gpu) {
      const { B, T, Hq, Hkv, D } = c;
      const { q, k, v, mask, positions, scale } = inputs(c);
      const nq = B * T * Hq * D;
      const ob = gpu.upload(nanFilled(nq), 'out');
      const lb = gpu.upload(nanFilled(B * Hq * T), 'lse');
      const qb = gpu.upload(q, 'q');
      const kb = gpu.upload(k, 'k');
      const vb = gpu.upload(v, 'v');
      const mb = gpu.upload(mask, 'mask');
      const pb = gpu.upload(positions, 'positions');
      const tiles = tilesFor(gpu, c);
      const shape = shapeOf(c, scale);
      await gpu.run((rec) => attentionForwardTiled(rec, tiles, { out: ob, lse: lb, q: qb, k: kb, v: vb, mask: mb, positions: pb }, shape));
      const gotOut = await gpu.readF32(ob, nq);
      const gotLse = await gpu.readF32(lb, B * Hq * T);
      for (const b of [ob, lb, qb, kb, vb, mb, pb]) gpu.destroyBuffer(b);
      const out = new Float32Array(nq);
      const lse = new Float32Array(B * Hq * T);
      attentionForwardCpu({ out, lse, q, k, v, mask, positions }, shape);
      // out: convex combinations of v ~ N(0, 1); lse: error relative to its magnitude.
      const lseScale = peakAbs(lse, 1);
      return { error: Math.max(maxAbsErr(gotOut, out), maxAbsErr(gotLse, lse) / lseScale), tolerance: 2e-5 };
    },
  };
}

function attentionBackwardCheck(c: AttentionCase): KernelCheck {
  return {
    name: `attention backward ${caseName(c)}`,
    async run(gpu) {
      const { B, T, Hq, Hkv, D } = c;
      const { q, k, v, dout, mask, positions, scale } = inputs(c);
      const nq = B * T * Hq * D;
      const nk = B * T * Hkv * D;
      // The CPU forward's out and lse feed both backwards, so this checks the backward alone.
      const out = new Float32Array(nq);
      const lse = new Float32Array(B * Hq * T);
      const shape = shapeOf(c, scale);
      attentionForwardCpu({ out, lse, q, k, v, mask, positions }, shape);
      const dqb = gpu.upload(nanFilled(nq), 'dq');
      const dkb = gpu.upload(nanFilled(nk), 'dk');
      const dvb = gpu.upload(nanFilled(nk), 'dv');
      const bufs = [gpu.upload(dout, 'dout'), gpu.upload(out, 'out'), gpu.upload(lse, 'lse')];
      const [qb, kb, vb, mb, pb] = [gpu.upload(q, 'q'), gpu.upload(k, 'k'), gpu.upload(v, 'v'), gpu.upload(mask, 'mask'), gpu.upload(positions, 'positions')];
      const tiles = tilesFor(gpu, c);
      const t = { out: bufs[1], lse: bufs[2], q: qb, k: kb, v: vb, mask: mb, positions: pb };
      await gpu.run((rec) => attentionBackwardTiled(rec, tiles, { dq: dqb, dk: dkb, dv: dvb, dout: bufs[0] }, t, shape));
      const got = [await gpu.readF32(dqb, nq), await gpu.readF32(dkb, nk), await gpu.readF32(dvb, nk)];
      for (const b of [dqb, dkb, dvb, ...bufs, qb, kb, vb, mb, pb]) gpu.destroyBuffer(b);
      const want = [new Float32Array(nq), new Float32Array(nk), new Float32Array(nk)];
      attentionBackwardCpu({ dq: want[0], dk: want[1], dv: want[2], dout }, { out, lse, q, k, v, mask, positions }, shape);
      // Relative L2 per gradient; max abs relative to the gradient's largest entry (catches a
      // single wrong row that L2 would dilute, and NaN / unwritten elements).
      let err = 0;
      for (let i = 0; i < 3; i++) {
        const peak = peakAbs(want[i], 1e-3);
        err = Math.max(err, relL2Err(got[i], want[i]), maxAbsErr(got[i], want[i]) / peak);
      }
      return { error: err, tolerance: 2e-5 };
    },
  };
}

// A mask with left padding and a hole (not right padding): the kernels follow the mask as given.
const holes = [0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1];

const attentionCases: AttentionCase[] = [
  { B: 1, T: 1, Hq: 1, Hkv: 1, D: 16, lens: [1] },
  { B: 2, T: 13, Hq: 4, Hkv: 2, D: 16, lens: [13, 9] },
  { B: 3, T: 20, Hq: 6, Hkv: 2, D: 32, lens: [20, 0, 7] },
  { B: 2, T: 20, Hq: 4, Hkv: 1, D: 32, lens: [17, 20], std: 3, label: 'MQA peaky' },
  { B: 1, T: 33, Hq: 2, Hkv: 2, D: 64, lens: [33] },
  { B: 2, T: 70, Hq: 4, Hkv: 2, D: 128, lens: [70, 41] },
  { B: 1, T: 37, Hq: 2, Hkv: 1, D: 256, lens: [30] },
  { B: 1, T: 29, Hq: 3, Hkv: 1, D: 256, lens: [27], tiles: 'small' },
  {
    B: 1,
    T: 23,
    Hq: 6,
    Hkv: 3,
    D: 20,
    mask: holes,
    tiles: { wg: 12, forward: { BQ: 3, BK: 4 }, dq: { BQ: 4, BK: 6 }, dkdv: { BQ: 5, BK: 6 } },
  },
  { B: 1, T: 2048, Hq: 1, Hkv: 1, D: 32, lens: [2000], label: 'long' },
  // Packed rows: several examples per row, one-token examples, examples across tile boundaries,
  // a full row, padding at a row's tail (its own example, masked), GQA and MQA.
  { B: 3, T: 20, Hq: 4, Hkv: 2, D: 16, lens: [20, 17, 11], rows: [[7, 1, 12], [5, 9, 3], [11]] },
  { B: 2, T: 70, Hq: 6, Hkv: 2, D: 32, lens: [70, 64], rows: [[1, 33, 2, 17, 17], [40, 1, 1, 22]], std: 2 },
  { B: 1, T: 45, Hq: 4, Hkv: 1, D: 64, lens: [45], rows: [[16, 16, 13]], label: 'MQA, tile-aligned examples' },
  {
    B: 2,
    T: 23,
    Hq: 6,
    Hkv: 3,
    D: 20,
    lens: [23, 19],
    rows: [[3, 1, 10, 9], [6, 2, 11]],
    tiles: { wg: 12, forward: { BQ: 3, BK: 4 }, dq: { BQ: 4, BK: 6 }, dkdv: { BQ: 5, BK: 6 } },
  },
  { B: 1, T: 300, Hq: 2, Hkv: 1, D: 32, lens: [296], rows: [[100, 1, 150, 45]], label: 'long packed' },
  // Sliding windows (whole key tiles skipped left of the window) and soft-capped scores, alone and
  // with packing, padding, odd tiles and peaky scores.
  { B: 2, T: 70, Hq: 4, Hkv: 2, D: 32, lens: [70, 41], window: 8 },
  { B: 1, T: 300, Hq: 2, Hkv: 1, D: 32, lens: [296], window: 37, label: 'long' },
  { B: 2, T: 20, Hq: 4, Hkv: 1, D: 16, lens: [17, 20], std: 3, softcap: 2, label: 'MQA peaky' },
  { B: 2, T: 70, Hq: 6, Hkv: 2, D: 32, lens: [70, 64], rows: [[1, 33, 2, 17, 17], [40, 1, 1, 22]], std: 2, window: 6, softcap: 3 },
  { B: 1, T: 23, Hq: 6, Hkv: 3, D: 20, mask: holes, window: 5, softcap: 1.5, tiles: { wg: 12, forward: { BQ: 3, BK: 4 }, dq: { BQ: 4, BK: 6 }, dkdv: { BQ: 5, BK: 6 } } },
  { B: 1, T: 29, Hq: 3, Hkv: 1, D: 256, lens: [27], window: 4, tiles: 'small' },
];

export const attentionChecks: KernelCheck[] = [
  ...attentionCases.map(attentionForwardCheck),
  ...attentionCases.map(attentionBackwardCheck),
];
