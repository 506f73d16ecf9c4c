import { describe, expect, it } from 'vitest';
import { attentionChecks } from './attention.check';
import { attentionBackwardCpu, attentionForwardCpu, attentionTiles, attentionSharedBytes } from './attention';
import { itChecks, randn } from './testing';
import { positionsProblem, rowPositions, segmentPositions } from './positions';

describe('attention kernels: GPU vs CPU', () => itChecks(attentionChecks));

/** Random q (B*T, Hq*D) and k, v (B*T, Hkv*D) from seeds seed, seed + 1, seed + 2. */
function randomQkv(B: number, T: number, Hq: number, Hkv: number, D: number, seed: number): { q: Float32Array; k: Float32Array; v: Float32Array } {
  return { q: randn(B * T * Hq * D, seed), k: randn(B * T * Hkv * D, seed + 1), v: randn(B * T * Hkv * D, seed + 2) };
}

describe('attention CPU twins', () => {
  it('grouped-query heads equal multi-head attention on repeated kv heads (repeat_kv)', () => {
    const [B, T, Hq, Hkv, D] = [2, 6, 4, 2, 4];
    const { q, k, v } = randomQkv(B, T, Hq, Hkv, D, 1);
    const mask = Uint32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    // kv head of query head h is h / 2: repeat each kv head twice.
    const rep = (x: Float32Array): Float32Array => {
      const y = new Float32Array(B * T * Hq * D);
      for (let n = 0; n < B * T; n++)
        for (let h = 0; h < Hq; h++)
          for (let d = 0; d < D; d++) y[(n * Hq + h) * D + d] = x[(n * Hkv + Math.floor(h / 2)) * D + d];
      return y;
    };
    const a = new Float32Array(B * T * Hq * D);
    const b = new Float32Array(B * T * Hq * D);
    const la = new Float32Array(B * Hq * T);
    const lb = new Float32Array(B * Hq * T);
    const positions = rowPositions(B, T);
    attentionForwardCpu({ out: a, lse: la, q, k, v, mask, positions }, { B, T, Hq, Hkv, D, scale: 0.5 });
    attentionForwardCpu({ out: b, lse: lb, q, k: rep(k), v: rep(v), mask, positions }, { B, T, Hq, Hkv: Hq, D, scale: 0.5 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(la)).toEqual(Array.from(lb));
  });

  it('first query sees only itself; a row with no visible key gives 0 and lse 0', () => {
    const [T, D] = [3, 2];
    const q = Float32Array.from([1, 0, 0, 1, 1, 1]);
    const k = Float32Array.from([2, 0, 0, 2, 1, 1]);
    const v = Float32Array.from([5, 6, 7, 8, 9, 10]);
    const out = new Float32Array(T * D);
    const lse = new Float32Array(T);
    attentionForwardCpu({ out, lse, q, k, v, mask: Uint32Array.from([0, 1, 1]), positions: rowPositions(1, T) }, { B: 1, T, Hq: 1, Hkv: 1, D, scale: 1 });
    expect(Array.from(out.subarray(0, 2))).toEqual([0, 0]); // key 0 is padding
    expect(lse[0]).toBe(0);
    expect(Array.from(out.subarray(2, 4))).toEqual([7, 8]); // only key 1 visible
    expect(lse[1]).toBeCloseTo(2, 6);
    // Query 2 = (1, 1): scores 2 (key 1) and 2 (key 2): mean of v1, v2.
    expect(out[4]).toBeCloseTo(8, 5);
    expect(out[5]).toBeCloseTo(9, 5);
  });

  it.each([
    ['', {}],
    [', sliding window 3 and soft-capping 1.5 (Gemma 2)', { window: 3, softcap: 1.5 }],
  ])('backward is the gradient of sum(out * dout) (finite differences), GQA + padding%s', (_, extra: { window?: number; softcap?: number }) => {
    const [B, T, Hq, Hkv, D] = [2, 5, 4, 2, 4];
    const scale = 0.7;
    const shape = { B, T, Hq, Hkv, D, scale, ...extra };
    const q = randn(B * T * Hq * D, 11);
    const k = randn(B * T * Hkv * D, 12);
    const v = randn(B * T * Hkv * D, 13);
    const w = randn(B * T * Hq * D, 14);
    const mask = Uint32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    const positions = rowPositions(B, T);
    const loss = (qq: Float32Array, kk: Float32Array, vv: Float32Array): number => {
      const out = new Float32Array(B * T * Hq * D);
      const lse = new Float32Array(B * Hq * T);
      attentionForwardCpu({ out, lse, q: qq, k: kk, v: vv, mask, positions }, shape);
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i] * w[i];
      return s;
    };
    const out = new Float32Array(B * T * Hq * D);
    const lse = new Float32Array(B * Hq * T);
    attentionForwardCpu({ out, lse, q, k, v, mask, positions }, shape);
    const dq = new Float32Array(q.length);
    const dk = new Float32Array(k.length);
    const dv = new Float32Array(v.length);
    attentionBackwardCpu({ dq, dk, dv, dout: w }, { out, lse, q, k, v, mask, positions }, shape);
    const h = 1e-2;
    const fd = (which: 0 | 1 | 2, i: number): number => {
      const args = [q, k, v].map((x) => x.slice());
      args[which][i] += h;
      const lp = loss(args[0], args[1], args[2]);
      args[which][i] -= 2 * h;
      const lm = loss(args[0], args[1], args[2]);
      return (lp - lm) / (2 * h);
    };
    const grads = [dq, dk, dv];
    let checked = 0;
    for (const which of [0, 1, 2] as const) {
      for (let i = 0; i < grads[which].length; i++) {
        expect(Math.abs(fd(which, i) - grads[which][i]), `${'qkv'[which]}[${i}]`).toBeLessThan(1e-3);
        checked++;
      }
    }
    expect(checked).toBe(q.length + k.length + v.length);
    // Padded keys get no gradient; padded query rows still do (they attend to valid keys), except
    // where the window leaves one visible key (row 1's last query sees keys 2..4, only 2 valid):
    // a softmax over one key is constant.
    for (let d = 0; d < Hkv * D; d++) expect(dk[(1 * T + 3) * Hkv * D + d]).toBe(0);
    expect(dq.subarray((1 * T + 4) * Hq * D, (1 * T + 5) * Hq * D).some((x) => x !== 0)).toBe(extra.window === undefined);
  });
});

describe('attention CPU twins: sliding window and soft-capping', () => {
  it('a window W hides keys W or more positions back, and equals full attention on rows no longer than W', () => {
    const [B, T, Hq, Hkv, D] = [1, 9, 2, 1, 4];
    const { q, k, v } = randomQkv(B, T, Hq, Hkv, D, 31);
    const mask = new Uint32Array(T).fill(1);
    const positions = rowPositions(B, T);
    const run = (window: number): Float32Array => {
      const out = new Float32Array(B * T * Hq * D);
      attentionForwardCpu({ out, lse: new Float32Array(B * Hq * T), q, k, v, mask, positions }, { B, T, Hq, Hkv, D, scale: 0.5, window });
      return out;
    };
    expect(run(T)).toEqual(run(0));
    // With W = 1 each query sees only itself: out = its own v.
    const one = run(1);
    for (let t = 0; t < T; t++) for (let h = 0; h < Hq; h++) for (let d = 0; d < D; d++) expect(one[(t * Hq + h) * D + d]).toBeCloseTo(v[t * D + d], 6);
    // W = 3: query 8 sees keys 6, 7, 8 only: changing key 5 changes nothing there, changing key 6 does.
    const k5 = k.slice();
    k5.fill(9, 5 * D, 6 * D);
    const out3 = run(3);
    const changed = (() => {
      const out = new Float32Array(B * T * Hq * D);
      attentionForwardCpu({ out, lse: new Float32Array(B * Hq * T), q, k: k5, v, mask, positions }, { B, T, Hq, Hkv, D, scale: 0.5, window: 3 });
      return out;
    })();
    expect(Array.from(changed.subarray(8 * Hq * D))).toEqual(Array.from(out3.subarray(8 * Hq * D)));
    expect(Array.from(changed.subarray(7 * Hq * D, 8 * Hq * D))).not.toEqual(Array.from(out3.subarray(7 * Hq * D, 8 * Hq * D)));
  });

  it('soft-capping bounds the scores: lse of a one-key row is cap·tanh(s/cap)', () => {
    const q = Float32Array.from([10, 0]);
    const k = Float32Array.from([10, 0]);
    const v = Float32Array.from([1, 2]);
    const out = new Float32Array(2);
    const lse = new Float32Array(1);
    attentionForwardCpu({ out, lse, q, k, v, mask: Uint32Array.from([1]), positions: rowPositions(1, 1) }, { B: 1, T: 1, Hq: 1, Hkv: 1, D: 2, scale: 1, softcap: 2 });
    expect(lse[0]).toBeCloseTo(2 * Math.tanh(50), 6);
  });
});

describe('attention CPU twins on packed rows', () => {
  it('each example of a packed row attends as if it were alone (forward, lse and backward)', () => {
    const [T, Hq, Hkv, D] = [14, 4, 2, 4];
    const lengths = [5, 1, 6]; // then 2 tokens of padding
    const shape = (t: number) => ({ B: 1, T: t, Hq, Hkv, D, scale: 0.6 });
    const q = randn(T * Hq * D, 21);
    const k = randn(T * Hkv * D, 22);
    const v = randn(T * Hkv * D, 23);
    const dout = randn(T * Hq * D, 24);
    const mask = Uint32Array.from({ length: T }, (_, t) => (t < 12 ? 1 : 0));
    const run = (t: number, at: number, positions: Int32Array) => {
      const rows = (x: Float32Array, w: number): Float32Array => x.slice(at * w, (at + t) * w);
      const inp = { q: rows(q, Hq * D), k: rows(k, Hkv * D), v: rows(v, Hkv * D), mask: mask.slice(at, at + t), positions };
      const out = new Float32Array(t * Hq * D);
      const lse = new Float32Array(Hq * t);
      attentionForwardCpu({ out, lse, ...inp }, shape(t));
      const g = { dq: new Float32Array(t * Hq * D), dk: new Float32Array(t * Hkv * D), dv: new Float32Array(t * Hkv * D), dout: rows(dout, Hq * D) };
      attentionBackwardCpu(g, { out, lse, ...inp }, shape(t));
      return { out, lse, dq: g.dq, dk: g.dk, dv: g.dv };
    };
    const packed = run(T, 0, segmentPositions(T, [lengths]));
    let at = 0;
    for (const len of lengths) {
      const alone = run(len, at, rowPositions(1, len));
      const part = (x: Float32Array, w: number): number[] => Array.from(x.subarray(at * w, (at + len) * w));
      expect(part(packed.out, Hq * D)).toEqual(Array.from(alone.out));
      expect(part(packed.dq, Hq * D)).toEqual(Array.from(alone.dq));
      expect(part(packed.dk, Hkv * D)).toEqual(Array.from(alone.dk));
      expect(part(packed.dv, Hkv * D)).toEqual(Array.from(alone.dv));
      for (let h = 0; h < Hq; h++) expect(Array.from(packed.lse.subarray(h * T + at, h * T + at + len))).toEqual(Array.from(alone.lse.subarray(h * len, (h + 1) * len)));
      at += len;
    }
    // The padding rows see only their own (masked) keys: out 0, and no gradient reaches any key.
    expect(Array.from(packed.out.subarray(12 * Hq * D)).every((x) => x === 0)).toBe(true);
    // Without positions the same row mixes the examples.
    const mixed = run(T, 0, rowPositions(1, T));
    expect(Array.from(mixed.out.subarray(5 * Hq * D, 6 * Hq * D))).not.toEqual(Array.from(packed.out.subarray(5 * Hq * D, 6 * Hq * D)));
  });

  it('positions that do not restart at 0 or count up by 1 are named', () => {
    expect(positionsProblem(segmentPositions(6, [[2, 1], [6]]), 2, 6)).toBeNull();
    expect(positionsProblem(Int32Array.from([0, 1, 2, 0, 2, 3]), 1, 6)).toMatch(/positions\[4\] \(row 0, token 4\) is 2/);
    expect(positionsProblem(Int32Array.from([0, 1, 1, 2]), 2, 2)).toMatch(/positions\[2\] \(row 1, token 0\) is 1: .*0 at a row start/);
  });
});

describe('attention tiles', () => {
  const limits = (bytes: number) => ({
    maxComputeWorkgroupStorageSize: bytes,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
  });
  it('fit the workgroup memory for D up to 256 at 16 and 32 KiB', () => {
    for (const bytes of [16384, 32768]) {
      for (const D of [16, 32, 64, 80, 128, 256]) {
        const t = attentionTiles(D, limits(bytes));
        expect(attentionSharedBytes.forward(t.forward.BQ, t.forward.BK, D)).toBeLessThanOrEqual(bytes);
        expect(attentionSharedBytes.dq(t.dq.BQ, t.dq.BK, D)).toBeLessThanOrEqual(bytes);
        expect(attentionSharedBytes.dkdv(t.dkdv.BQ, t.dkdv.BK, D)).toBeLessThanOrEqual(bytes);
        for (const own of [t.forward.BQ, t.dq.BQ, t.dkdv.BK]) expect(Math.ceil(D / (t.wg / own))).toBeLessThanOrEqual(32);
      }
    }
  });
});
