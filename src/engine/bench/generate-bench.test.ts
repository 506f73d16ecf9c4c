// The generation benchmark on the tiny preset: it decodes the tokens asked for, reports finite
// times, frees everything it allocated, and names a bad option.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../kernels/testing';
import { BenchFieldError, cliLabel } from './fields';
import { parseGenerateBenchOptions, runGenerateBench } from './generate-bench';

describe('generate bench', () => {
  for (const quant of ['none', 'int4'] as const) {
    it(`tiny, ${quant}: prefill, then timed greedy decode steps`, async () => {
      const gpu = await testGpu();
      const before = gpu.allocatedBytes;
      const r = await runGenerateBench(gpu, { model: 'tiny', layers: 2, quant, rank: 4, prompt: 5, tokens: 4 });
      expect(gpu.allocatedBytes).toBe(before);
      expect(r).toMatchObject({ generate: 'tiny', layers: 2, quant, rank: 4, prompt: 5, tokens: 4, subgroups: gpu.subgroups });
      for (const v of [r.prefill_ms, r.ms_per_token, r.tokens_per_s]) expect(v).toBeGreaterThan(0);
      expect(r.gpu_bytes).toBeGreaterThan(0);
      // A per-kernel table exactly where the device has timestamp queries (the test GPU usually has none).
      if (gpu.features.has('timestamp-query')) {
        const rows = Object.values(r.kernels ?? {});
        expect(rows.length).toBeGreaterThan(0);
        for (const k of rows) {
          expect(k.calls).toBeGreaterThan(0);
          expect(k.ms).toBeGreaterThanOrEqual(0);
        }
      } else {
        expect(r.kernels).toBeNull();
      }
    });
  }

  it('options: defaults, and a bad field named', () => {
    expect(parseGenerateBenchOptions({}, cliLabel)).toEqual({ model: 'tiny', layers: 2, quant: 'none', rank: 16, prompt: 32, tokens: 16 });
    expect(parseGenerateBenchOptions({ model: 'llama-3.2-1b', quant: 'int4' }, cliLabel)).toMatchObject({ layers: 16, quant: 'int4' });
    expect(() => parseGenerateBenchOptions({ tokens: '1' }, cliLabel)).toThrow('--tokens must be an integer ≥ 2 (got "1")');
    expect(() => parseGenerateBenchOptions({ prompt: 'x' }, cliLabel)).toThrow(BenchFieldError);
    expect(() => parseGenerateBenchOptions({ model: 'gpt-5' }, cliLabel)).toThrow(/--model gpt-5 is not known/);
  });
});
