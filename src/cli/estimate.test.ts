// cli estimate: one JSON line with the fields, from a preset or a model folder; bad input is a usage error.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from './args';
import { run } from './estimate';

afterEach(() => vi.restoreAllMocks());

async function printed(args: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  expect(await run(args)).toBe(0);
  expect(out).toHaveLength(1);
  return JSON.parse(out[0]) as Record<string, unknown>;
}

describe('cli estimate', () => {
  it('prints total_bytes, largest_buffer and parts that add up to the total', async () => {
    const e = await printed(['--model', 'smollm2-135m', '--batch', '4', '--seq', '512', '--rank', '16', '--quant', 'int4', '--json']);
    expect(Object.keys(e)).toEqual(['total_bytes', 'largest_buffer', 'largest_binding', 'parts']);
    const parts = e.parts as Record<string, number>;
    expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBe(e.total_bytes);
    // 2048 tokens: the head's logits in chunks of 640 rows × 49152 (128 MiB at most).
    expect(e.largest_buffer).toEqual({ label: 'logits', bytes: 640 * 49152 * 4 });
    const ck = await printed(['--model', 'smollm2-135m', '--batch', '4', '--seq', '512', '--rank', '16', '--quant', 'int4', '--checkpointing']);
    expect((ck.parts as Record<string, number>).activations).toBeLessThan(parts.activations / 5);
  });

  it('reads a model folder (config.json only) and refuses bad input by name', async () => {
    const e = await printed(['--model', '../shared/fixtures/reference/tiny-qwen3/model', '--batch', '2', '--seq', '64', '--targets', 'attention']);
    expect(e.total_bytes).toBeGreaterThan(0);
    await expect(run(['--model', 'no-such-model'])).rejects.toThrow(UsageError);
    await expect(run(['--model', 'tiny', '--batch', '0'])).rejects.toThrow('--batch must be a positive integer (got "0")');
    await expect(run(['--model', 'tiny', '--targets', 'lm_head'])).rejects.toThrow(/--targets: "lm_head" is not one of/);
  });
});
