import { describe, expect, it } from 'vitest';
import { matmulChecks } from './matmul.check';
import { linearBackwardInputCpu, linearForwardCpu, matmulTileFor } from './matmul';
import { resolveMatmulTile, TILE128 } from './matmul-tile128';
import { itChecks, randomF32, relL2Err } from './testing';

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
