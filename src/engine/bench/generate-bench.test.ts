// The generation benchmark on the tiny preset: it decodes the tokens asked for, reports finite
// times, frees everything it allocated, and names a bad option.
import { describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../gpu/node';
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

  it('the decoder compiles ahead, in parallel, exactly the pipelines decoding runs', async () => {
    // Fresh devices: a shared one would already hold pipelines compiled by other tests.
    const counts = [];
    for (const compile of ['first-use', 'ahead'] as const) {
      const gpu = await createNodeGpu();
      try {
        const r = await runGenerateBench(gpu, { model: 'tiny', layers: 1, quant: 'int4', rank: 4, prompt: 5, tokens: 3, compile });
        expect(r.first_token_ms).toBeCloseTo(r.setup_ms + r.prefill_ms, 1);
        counts.push(r.compiled);
        // Nothing compiles after the first token either (each program's pipelines are all known by then).
        expect(gpu.compileStats.sync + gpu.compileStats.async).toBe(r.compiled.ahead + r.compiled.first_use);
      } finally {
        gpu.destroy();
      }
    }
    const [firstUse, ahead] = counts;
    expect(firstUse.ahead).toBe(0);
    expect(firstUse.first_use).toBeGreaterThan(0);
    expect(ahead).toEqual({ ahead: firstUse.first_use, first_use: 0 });
  });

  it('options: defaults, and a bad field named', () => {
    expect(parseGenerateBenchOptions({}, cliLabel)).toEqual({ model: 'tiny', layers: 2, quant: 'none', rank: 16, prompt: 32, tokens: 16 });
    expect(parseGenerateBenchOptions({ model: 'llama-3.2-1b', quant: 'int4' }, cliLabel)).toMatchObject({ layers: 16, quant: 'int4' });
    expect(() => parseGenerateBenchOptions({ tokens: '1' }, cliLabel)).toThrow('--tokens must be an integer ≥ 2 (got "1")');
    expect(() => parseGenerateBenchOptions({ prompt: 'x' }, cliLabel)).toThrow(BenchFieldError);
    expect(() => parseGenerateBenchOptions({ model: 'gpt-5' }, cliLabel)).toThrow(/--model gpt-5 is not known/);
  });
});
