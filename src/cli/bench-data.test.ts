// The real-data path of the training benchmark: `bench --model DIR --data FILE [--packing]` trains
// the batches a run draws from the prepared file, and counts their real and padded tokens. The
// expected counts are worked out by hand from the example lengths (no timing is checked).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, loadReference } from '../data/testdata/fixtures';
import { runTrainBench, type TrainBenchOptions } from '../engine/bench/train-bench';
import { testGpu } from '../engine/kernels/testing';
import { loadBenchData } from './bench-data';
import { run } from './bench';

const dir = mkdtempSync(join(tmpdir(), 'bench-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(FIXTURES, 'tiny-llama', 'model');
const chats = loadReference('tiny-llama').chat;
// The fixture's three conversations (38, 61 and 43 tokens with its chat template), four times each.
const data = join(dir, 'chat.jsonl');
writeFileSync(data, Array.from({ length: 4 }, () => chats.map((c) => JSON.stringify({ messages: c.messages }))).flat().join('\n') + '\n');

describe('bench --model DIR --data FILE', () => {
  it('the fixture conversations are 38, 61 and 43 tokens (the counts below assume it)', () => {
    expect(chats.map((c) => c.ids.length)).toEqual([38, 61, 43]);
  });

  it('packed: one epoch of rows of T = 128 trains every token once; padded: rows of the longest example', async () => {
    const gpu = await testGpu();
    const opts: TrainBenchOptions = { model, layers: 0, batch: 2, seq: 128, rank: 4, quant: 'none', checkpointing: false, steps: 3 };
    // Best-fit decreasing in rows of 128: 61 + 61 twice, 43 + 43 + 38 twice, then 38 + 38: 5 rows,
    // 3 steps of 2, 2 and 1 rows (the part-filled row last, alone, at T = 76 bucketed to 96);
    // every one of the 4 × 142 tokens once, in 4 × 128 + 96 slots.
    const packed = await runTrainBench(gpu, opts, { profile: false }, await loadBenchData(model, data, 2, 128, true));
    expect(packed).toMatchObject({ model, layers: 2, batch: 2, seq: 128, steps: 3, packing: true, real_tokens: 4 * 142, padded_tokens: 4 * 128 + 96 });
    expect(packed.real_token_fraction).toBeCloseTo((4 * 142) / (4 * 128 + 96), 4);
    expect(packed.losses).toHaveLength(3);
    for (const l of packed.losses) expect(Number.isFinite(l)).toBe(true);
    expect(packed.real_tokens_per_s).toBeGreaterThan(0);
    expect(packed.vs_pytorch_h100).toBeNull();

    // Padded: batches of 2 examples, T = the longest row (61) since 64 is past it; 2 steps.
    const padded = await runTrainBench(gpu, { ...opts, steps: 2 }, { profile: false }, await loadBenchData(model, data, 2, 128, false));
    expect(padded).toMatchObject({ packing: false, padded_tokens: 2 * 2 * 61 });
    expect(padded.real_tokens!).toBeGreaterThanOrEqual(2 * 2 * 38);
    expect(padded.real_tokens!).toBeLessThanOrEqual(2 * 2 * 61);
    expect(padded.real_token_fraction).toBeCloseTo(padded.real_tokens! / padded.padded_tokens!, 4);
    expect(packed.real_token_fraction!).toBeLessThan(1);

    // --vs-padded: both runs in one invocation, steps interleaved. Packed steps 0 and 1 are the two
    // full batches (61 + 61 twice, 43 + 43 + 38 twice: 492 tokens in 4 × 128 slots); the padded
    // run's steps are the padded run's above, token for token.
    const both = await runTrainBench(gpu, { ...opts, steps: 2 }, { profile: false }, await loadBenchData(model, data, 2, 128, true, true));
    expect(both).toMatchObject({ packing: true, real_tokens: 492, padded_tokens: 4 * 128 });
    expect(both.padded_run).toMatchObject({ packing: false, real_tokens: padded.real_tokens, padded_tokens: 2 * 2 * 61 });
    expect(both.losses).toHaveLength(2);
    const speedup = both.real_tokens_per_s! / both.padded_run!.real_tokens_per_s!;
    expect(both.packing_speedup).toBeCloseTo(speedup, 2);
  }, 600_000);

  it('refuses --packing without --data, and --layers or no --model with it', async () => {
    await expect(run(['--model', 'tiny', '--packing'])).rejects.toThrow(/--packing needs --data FILE/);
    await expect(run(['--model', model, '--data', data, '--layers', '1'])).rejects.toThrow(/--layers applies to a preset --model/);
    await expect(run(['--data', data])).rejects.toThrow(/--data needs --model MODEL_DIR/);
    await expect(run(['--model', model, '--data', data, '--vs-padded'])).rejects.toThrow(/--vs-padded compares a packed run with the padded one: it needs --packing/);
  });
});
