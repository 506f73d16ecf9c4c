import { describe, expect, it } from 'vitest';
import { kernelPolicy } from './policy';
import { matmulChecks } from './matmul.check';
import {
  linearBackwardInput,
  linearBackwardInputCpu,
  linearForward,
  linearForwardCpu,
  matmulSplitScratchFloats,
  matmulSplitSlices,
  matmulTileFor,
  matmulTiles,
} from './matmul';
import { linearBackwardInputQ, type QuantWeightBuffers } from './matmul-q';
import { resolveMatmulTile, TILE128 } from './matmul-tile128';
import { splitPlan as matmulSplitPlan } from './split-k';
import { fakeBuf, itChecks, randomF32, recordDispatches, relL2Err } from './testing';
import type { DispatchSpec } from '../../gpu/gpu';

describe('matmul kernels: GPU vs CPU', () => itChecks(matmulChecks));

describe('matmul CPU twins', () => {
  it('linearBackwardInputCpu matches finite differences of linearForwardCpu (f64)', () => {
    const [N, In, Out] = [3, 5, 4];
    const x = Float64Array.from(randomF32(N * In, 11));
    const w = Float64Array.from(randomF32(Out * In, 12));
    const b = Float64Array.from(randomF32(Out, 13));
    const dout = Float64Array.from(randomF32(N * Out, 14));
    const loss = (xx: Float64Array): number => {
      const y = new Float64Array(N * Out);
      linearForwardCpu(y, xx, w, b, N, In, Out);
      return y.reduce((s, v, i) => s + v * dout[i], 0);
    };
    const fd = new Float64Array(N * In);
    const h = 1e-6;
    for (let i = 0; i < N * In; i++) {
      const xp = x.slice();
      const xm = x.slice();
      xp[i] += h;
      xm[i] -= h;
      fd[i] = (loss(xp) - loss(xm)) / (2 * h);
    }
    const dx = new Float64Array(N * In).fill(0.25);
    linearBackwardInputCpu(dx, dout, w, N, In, Out, true);
    for (let i = 0; i < dx.length; i++) dx[i] -= 0.25;
    expect(relL2Err(dx, fd)).toBeLessThan(1e-8);
  });

  it('linearForwardCpu accumulates and adds the bias', () => {
    const out = new Float32Array([1, 2]);
    linearForwardCpu(out, new Float32Array([1, 2]), new Float32Array([1, 1, 0, 1]), new Float32Array([10, 20]), 1, 2, 2, true);
    expect(Array.from(out)).toEqual([1 + 3 + 10, 2 + 2 + 20]);
  });
});

describe('matmul tile choice', () => {
  const big = { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 };

  it('takes 128 from 256 output tiles of 128x128 up, else 64', () => {
    expect(matmulTileFor(2048, 2048, big)).toBe(128); // 16 x 16 tiles
    expect(matmulTileFor(2048, 8192, big)).toBe(128);
    expect(matmulTileFor(2048, 576, big)).toBe(64); // 16 x 5
    expect(matmulTileFor(2048, 1921, big)).toBe(128); // 16 x 16 (ragged last tile)
    expect(matmulTileFor(2048, 1920, big)).toBe(64); // 16 x 15
    expect(matmulTileFor(256, 256, big)).toBe(64);
    // Enough tiles, but 128-row tiles over 64 rows would compute as many dead rows as live ones.
    expect(matmulTileFor(64, 49152, big)).toBe(64);
    expect(matmulTileFor(256, 128256, big)).toBe(128); // a Llama-3.2-1B head chunk
    expect(matmulTileFor(192, 65536, big)).toBe(64); // 256 padded rows against 192: +33%
  });

  it('stays at 64 where the limits do not allow 128 (browser defaults: 16 KiB workgroup storage)', () => {
    expect(matmulTileFor(4096, 4096, { ...big, maxComputeWorkgroupStorageSize: 16384 })).toBe(64);
    expect(matmulTileFor(4096, 4096, { ...big, maxComputeInvocationsPerWorkgroup: 128 })).toBe(64);
    expect(matmulTileFor(4096, 4096, { ...big, maxComputeWorkgroupSizeX: 128 })).toBe(64);
    expect(matmulTileFor(4096, 4096, {})).toBe(64);
    expect(TILE128.WORKGROUP_BYTES).toBe(32768);
  });

  it('honours a forced tile, and refuses 128 where the device cannot run it', () => {
    expect(resolveMatmulTile(64, 4096, 4096, big, 'x')).toBe(64);
    expect(resolveMatmulTile(128, 1, 1, big, 'x')).toBe(128);
    expect(resolveMatmulTile('auto', 4096, 4096, big, 'x')).toBe(128);
    expect(() => resolveMatmulTile(128, 1, 1, { ...big, maxComputeWorkgroupStorageSize: 16384 }, 'x')).toThrow(/maxComputeWorkgroupStorageSize/);
  });
});

describe('split-K of the backward input product (LM head)', () => {
  /** [plain workgroups, slices, kSlice, split workgroups] of the head backward dn (rows, C) over V. */
  const head = (rows: number, C: number, V: number, unit: number) => {
    const tile = matmulTileFor(rows, C, { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 });
    const tiles = matmulTiles(rows, C, tile);
    const p = matmulSplitPlan(rows, C, [V], tiles, unit, matmulSplitSlices(tiles, V));
    return [tiles, p.slices, p.kSlice, p.workgroups];
  };

  it('the head shapes: from 90 / 128 / 9 workgroups to ~1000', () => {
    for (const unit of [16, 32]) {
      expect(head(640, 576, 49152, unit)).toEqual([90, 12, 4096, 1080]); // SmolLM2, a 640-row chunk
      expect(head(256, 2048, 128256, unit)).toEqual([128, 8, 16032, 1024]); // Llama-3.2-1B, a 256-row chunk
      expect(head(64, 576, 49152, unit)).toEqual([9, 96, 512, 864]); // SmolLM2, 64 tokens (the smoke bench)
    }
  });

  it('no split when the tiles already fill the GPU or the reduction is short', () => {
    expect(matmulSplitSlices(kernelPolicy.matmulSplitMinWorkgroups, 1 << 20)).toBe(1);
    expect(matmulSplitSlices(kernelPolicy.matmulSplitMinWorkgroups - 1, 1 << 20)).toBe(3);
    expect(matmulSplitSlices(1, kernelPolicy.matmulSplitMinSlice * 2 - 1)).toBe(1);
    expect(matmulSplitSlices(1, 200)).toBe(1); // tiny models (reference tests) run the plain kernel
    const p = matmulSplitPlan(64, 64, [100], 1, 16, 1);
    expect([p.split, p.slices, p.kSlice, p.partialFloats, p.workgroups]).toEqual([false, 1, 100, 0, 1]);
  });

  it('slices are whole K steps that cover each part once, the last possibly ragged, none empty', () => {
    for (const parts of [[1], [15], [16], [17], [70], [129], [1000], [8191], [64, 64, 64, 8], [52, 52, 26], [1000, 3]]) {
      const K = parts.reduce((a, b) => a + b, 0);
      for (const unit of [16, 32]) {
        for (const forced of [1, 2, 3, 5, 16, 64, 10_000]) {
          const p = matmulSplitPlan(64, 70, parts, 6, unit, forced);
          expect(p.partSlices.length).toBe(parts.length);
          if (!p.split) {
            expect([p.slices, p.kSlice, p.partialFloats]).toEqual([1, K, 0]);
            expect(parts.length === 1 || forced === 1).toBe(true);
            continue;
          }
          expect(p.kSlice % unit).toBe(0);
          parts.forEach((rows, i) => {
            expect((p.partSlices[i] - 1) * p.kSlice).toBeLessThan(rows);
            expect(p.partSlices[i] * p.kSlice).toBeGreaterThanOrEqual(rows);
          });
          expect(p.slices).toBe(p.partSlices.reduce((a, b) => a + b, 0));
          expect(p.slices).toBeLessThanOrEqual(forced + parts.length - 1);
          expect(p.partialFloats).toBe(p.slices * 64 * 70);
          expect(p.workgroups).toBe(6 * p.slices);
        }
      }
    }
  });

  it('matmulSplitScratchFloats covers every row count up to the maximum, either tile', () => {
    for (const [maxM, Nc, K] of [
      [640, 576, 49152],
      [256, 2048, 128256],
      [1024, 4096, 32000], // 256 tiles of 128: 'auto' may take the 128 tile
      [64, 576, 49152],
      [100, 64, 200],
    ]) {
      const room = matmulSplitScratchFloats(maxM, Nc, K);
      let need = 0;
      for (let M = 1; M <= maxM; M++) {
        for (const tile of [64, 128] as const) {
          if (tile === 128 && matmulTileFor(M, Nc, { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 }) !== 128) continue;
          const tiles = matmulTiles(M, Nc, tile);
          for (const unit of [16, 32]) need = Math.max(need, matmulSplitPlan(M, Nc, [K], tiles, unit, matmulSplitSlices(tiles, K)).partialFloats);
        }
      }
      expect(room).toBeGreaterThanOrEqual(need);
      expect(room).toBeLessThanOrEqual(need * 1.25 + 1);
    }
    expect(matmulSplitScratchFloats(640, 576, 49152)).toBe(12 * 640 * 576); // ~17.7 MB for SmolLM2's head
    expect(matmulSplitScratchFloats(100, 64, 200)).toBe(0);
  });

  describe('dispatch', () => {
    const record = recordDispatches;
    const names = (calls: DispatchSpec[]) => calls.map((d) => `${d.shader.name}.${d.entry}`);
    // The named uniforms in the order the dispatch lists them (the shader's field order).
    const u = (d: DispatchSpec) => Object.values(d.uniforms!);

    it('f32 split: raw partials into the scratch (slice = z), then one ordered reduce with accumulate', () => {
      const [dinp, dout, w, partials] = [fakeBuf(640 * 576), fakeBuf(640 * 49152), fakeBuf(49152 * 576), fakeBuf(12 * 640 * 576)];
      const calls = record((rec) => linearBackwardInput(rec, dinp, dout, w, 640, 576, 49152, true, 'auto', { partials }));
      expect(names(calls)).toEqual(['matmul.linear_backward_input', 'add.split_reduce']);
      expect(calls[0].uniforms).toEqual({ M: 640, Nc: 576, K: 49152, tiles_m: 10, tiles: 90, accumulate: 0, alpha: 1, keep_threshold: 0, site: 0, k_slice: 4096, slices: 12, slice_stride: 640 * 576 });
      expect(calls[0].bindings).toEqual([partials, dout, w]);
      expect(calls[0].workgroups).toEqual([90, 1, 12]);
      // n, slices, stride, accumulate, alpha (1: the sum as it is)
      expect(u(calls[1])).toEqual([640 * 576, 12, 640 * 576, 1, 1]);
      expect(calls[1].bindings).toEqual([dinp, partials]);
    });

    it('no split: one plain GEMM writing dinp directly, as before', () => {
      const [dinp, dout, w] = [fakeBuf(640 * 576), fakeBuf(640 * 49152), fakeBuf(49152 * 576)];
      for (const split of [undefined, { partials: fakeBuf(1 << 24), slices: 1 }]) {
        const calls = record((rec) => linearBackwardInput(rec, dinp, dout, w, 640, 576, 49152, true, 'auto', split));
        expect(names(calls)).toEqual(['matmul.linear_backward_input']);
        expect(calls[0].uniforms).toEqual({ M: 640, Nc: 576, K: 49152, tiles_m: 10, tiles: 90, accumulate: 1, alpha: 1, keep_threshold: 0, site: 0, k_slice: 49152, slices: 1, slice_stride: 0 });
        expect(calls[0].bindings).toEqual([dinp, dout, w]);
        expect(calls[0].workgroups).toEqual([90, 1, 1]);
      }
      // the forward never splits; the 128 tile with enough tiles does not either
      expect(record((rec) => linearForward(rec, dinp, dout, w, null, 640, 49152, 576)).length).toBe(1);
      const big = record((rec) => linearBackwardInput(rec, fakeBuf(4096 * 4096), fakeBuf(4096 * 4096), fakeBuf(4096 * 4096), 4096, 4096, 4096, false, 'auto', { partials: fakeBuf(1 << 24) }));
      expect(names(big)).toEqual(['matmul128_vec4.linear_backward_input']);
      expect(big[0].workgroups).toEqual([1024, 1, 1]);
    });

    it('a scratch too small narrows the split; a forced split that does not fit, or aliasing, throws', () => {
      const [dinp, dout, w] = [fakeBuf(640 * 576), fakeBuf(640 * 49152), fakeBuf(49152 * 576)];
      const calls = record((rec) => linearBackwardInput(rec, dinp, dout, w, 640, 576, 49152, false, 'auto', { partials: fakeBuf(5 * 640 * 576 + 7) }));
      expect(calls[0].uniforms).toMatchObject({ k_slice: 9840, slice_stride: 640 * 576 });
      expect(calls[0].workgroups).toEqual([90, 1, 5]);
      expect(record((rec) => linearBackwardInput(rec, dinp, dout, w, 640, 576, 49152, false, 'auto', { partials: fakeBuf(640 * 576) })).length).toBe(1);
      expect(() => record((rec) => linearBackwardInput(rec, dinp, dout, w, 640, 576, 49152, false, 'auto', { partials: fakeBuf(640 * 576), slices: 4 }))).toThrow(/scratch/);
      expect(() => record((rec) => linearBackwardInput(rec, dinp, dout, w, 640, 576, 49152, false, 'auto', { partials: dout }))).toThrow(/aliases/);
    });

    it('quantized, several parts: each part writes its own run of slots, one reduce over all', () => {
      // int4 (100, 64): 32 B of codes and 8 B of scales a row; 64-row parts (256 B alignment of scales).
      const w: QuantWeightBuffers = { kind: 'int4', q: fakeBuf(100 * 8), scales: fakeBuf(100 * 2), rows: 100, cols: 64, maxBindingBytes: 64 * 32 };
      const [dinp, dout, partials] = [fakeBuf(3 * 64), fakeBuf(3 * 100), fakeBuf(1 << 16)];
      const calls = record((rec) => linearBackwardInputQ(rec, dinp, dout, w, 3, 64, 100, true, 'auto', { partials, slices: 3 }));
      expect(names(calls)).toEqual(['matmul_q.linear_bwd_input', 'matmul_q.linear_bwd_input', 'add.split_reduce']);
      // N, In, Out (part rows), outStride, rowOffset, flag, totalRows, kSlice, slot0
      expect(u(calls[0]).slice(0, 9)).toEqual([3, 64, 64, 100, 0, 0, 100, 64, 0]);
      expect(calls[0].workgroups).toEqual([1, 1, 1]);
      expect(u(calls[1]).slice(0, 9)).toEqual([3, 64, 36, 100, 64, 0, 100, 64, 1]);
      expect(calls[1].workgroups).toEqual([1, 1, 1]);
      expect(calls[0].bindings[0]).toBe(partials);
      expect(u(calls[2])).toEqual([3 * 64, 2, 3 * 64, 1, 1]);
      expect(calls[2].bindings).toEqual([dinp, partials]);
      const more = record((rec) => linearBackwardInputQ(rec, dinp, dout, w, 3, 64, 100, false, 'auto', { partials, slices: 4 }));
      expect(more.map((d) => d.workgroups[2])).toEqual([2, 2, undefined]); // kSlice 32: 2 + 2 (the last ragged)
      expect(u(more[1]).slice(7, 9)).toEqual([32, 2]);
      // unsplit: part 0 writes, part 1 accumulates, straight into dinp
      const plain = record((rec) => linearBackwardInputQ(rec, dinp, dout, w, 3, 64, 100, false));
      expect(plain.map((d) => [u(d)[5], u(d)[7], u(d)[8], d.bindings[0], d.workgroups[2]])).toEqual([
        [0, 64, 0, dinp, 1],
        [1, 36, 0, dinp, 1],
      ]);
      // The policy over parts 1024 + 976 asks for 3 slices: kSlice 672, 2 + 2 slots. A scratch of 3
      // slots narrows it to one slice per part; one of a single slot cannot split at all.
      const big: QuantWeightBuffers = { kind: 'int4', q: fakeBuf(2000 * 8), scales: fakeBuf(2000 * 2), rows: 2000, cols: 64, maxBindingBytes: 1024 * 32 };
      const dy = fakeBuf(3 * 2000);
      const slots = (n: number) => record((rec) => linearBackwardInputQ(rec, dinp, dy, big, 3, 64, 2000, false, 'auto', { partials: fakeBuf(n * 3 * 64) }));
      expect(slots(4).map((d) => d.workgroups[2])).toEqual([2, 2, undefined]);
      expect(slots(3).map((d) => d.workgroups[2])).toEqual([1, 1, undefined]);
      expect(u(slots(3)[2])).toEqual([3 * 64, 2, 3 * 64, 0, 1]);
      expect(names(slots(1))).toEqual(['matmul_q.linear_bwd_input', 'matmul_q.linear_bwd_input']);
    });
  });
});
