// The kernel policy: defaults drive the tile and split choices, overrides (the bench's --policy)
// change them, bad entries are named, and null restores the defaults.
import { afterEach, describe, expect, it } from 'vitest';
import { loraSplitSlices } from './lora';
import { matmulSplitSlices } from './matmul';
import { matmulTileFor } from './matmul-tile128';
import { KERNEL_POLICY_DEFAULTS, kernelPolicy, parseKernelPolicy, setKernelPolicy } from './policy';

const limits = { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 };

afterEach(() => setKernelPolicy(null));

describe('kernel policy', () => {
  it('overrides change the choices; null restores the defaults', () => {
    // Llama-3.2-1B q_proj at 4 × 512 tokens: 256 tiles of 128 → the large tile, by default.
    expect(matmulTileFor(2048, 2048, limits)).toBe(128);
    expect(matmulSplitSlices(100, 8192)).toBe(11);
    expect(loraSplitSlices(32, 2048)).toBe(16);
    setKernelPolicy(parseKernelPolicy('tile128MinTiles=1000000, matmulSplitMinWorkgroups=1,loraSplitTargetWorkgroups=1'));
    expect(kernelPolicy.tile128MinTiles).toBe(1_000_000);
    expect(matmulTileFor(2048, 2048, limits)).toBe(64);
    expect(matmulSplitSlices(100, 8192)).toBe(1);
    expect(loraSplitSlices(32, 2048)).toBe(1);
    setKernelPolicy(null);
    expect(kernelPolicy).toEqual(KERNEL_POLICY_DEFAULTS);
    expect(matmulTileFor(2048, 2048, limits)).toBe(128);
  });

  it('bad entries are named and change nothing', () => {
    expect(() => parseKernelPolicy('tile128MinTiles')).toThrow('--policy entry "tile128MinTiles" is not name=value');
    expect(() => parseKernelPolicy('tileMin=3')).toThrow(/--policy: no "tileMin" \(known: tile128MinTiles, /);
    expect(() => parseKernelPolicy('loraSplitMinSlice=0')).toThrow('--policy loraSplitMinSlice must be a positive integer (got "0")');
    expect(() => setKernelPolicy({ matmulSplitMinSlice: 2.5 })).toThrow('kernel policy matmulSplitMinSlice must be a positive integer, not 2.5');
    expect(kernelPolicy).toEqual(KERNEL_POLICY_DEFAULTS);
  });
});
