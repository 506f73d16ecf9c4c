// How Past runs shows a stored run's state and whether it offers Resume (a paused run says why it
// paused: its GPU device was lost, or the browser's storage was full).
import { describe, expect, it } from 'vitest';
import { toErrorInfo } from '../../worker/protocol';
import { emptyHistory, RunStoreQuotaError, type RunRecord } from '../../worker/run-store';
import { canResume, runStateLabel } from './training';

const run = (p: Partial<RunRecord>) => ({ status: 'running', checkpointStep: 0, error: null, history: emptyHistory(), ...p }) as RunRecord;
const full = toErrorInfo(new RunStoreQuotaError('the checkpoint of step 6', 12_000, null));
const lost = { name: 'GpuDeviceLostError', message: 'GPU device lost (destroyed: no message)' };

describe('Past runs: a stored run', () => {
  it('paused by a refused write says "storage full" and offers Resume from its checkpoint', () => {
    const r = run({ status: 'paused', error: full, checkpointStep: 3 });
    expect(runStateLabel(r)).toBe('paused (storage full)');
    expect(canResume(r)).toBe(true);
  });

  it('paused by a lost device says "GPU lost"', () => {
    expect(runStateLabel(run({ status: 'paused', error: lost, checkpointStep: 3 }))).toBe('paused (GPU lost)');
  });

  it('paused before its first checkpoint still resumes (from its start)', () => {
    expect(canResume(run({ status: 'paused', error: full, checkpointStep: 0 }))).toBe(true);
  });

  it('interrupted, finished, stopped, failed', () => {
    expect(runStateLabel(run({ status: 'running' }))).toBe('interrupted');
    expect(runStateLabel(run({ status: 'finished' }))).toBe('finished');
    expect(runStateLabel(run({ status: 'stopped' }))).toBe('stopped');
    expect(runStateLabel(run({ status: 'failed' }))).toBe('failed');
    expect(canResume(run({ status: 'finished', checkpointStep: 8 }))).toBe(false);
    expect(canResume(run({ status: 'failed', checkpointStep: 0 }))).toBe(false);
    expect(canResume(run({ status: 'stopped', checkpointStep: 4 }))).toBe(true);
  });
});
