// The run store's quota check, before anything is written (the IndexedDB writes themselves are
// exercised in Chromium by the e2e specs).
import { describe, expect, it } from 'vitest';
import { checkpointBytes, ensureRoom, RunStoreQuotaError } from './run-store';

const storage = (usage: number, quota: number) => ({ estimate: async () => ({ usage, quota }) });

describe('run store quota', () => {
  it('refuses with a typed error naming what did not fit, before writing', async () => {
    const e = await ensureRoom('the checkpoint of step 4', 2_000_000, storage(9_000_000, 10_000_000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunStoreQuotaError);
    expect((e as RunStoreQuotaError).available).toBe(1_000_000);
    expect((e as Error).message).toMatch(/^Not enough browser storage for the checkpoint of step 4: .*earlier runs and checkpoints are kept\.$/);
  });
  it('lets a write that fits through', async () => {
    await expect(ensureRoom('x', 1_000_000, storage(9_000_000, 10_000_000))).resolves.toBeUndefined();
  });
  it('a checkpoint holds the parameters and both AdamW moments in f32', () => {
    expect(checkpointBytes(1000)).toBe(12_000);
  });
});
