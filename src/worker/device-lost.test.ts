// How a run's error is classified as a lost device (run.ts deviceWasLost): a step on a lost device
// can reject with a plain mapping error before `device.lost` settles, so the GPU layer's errors
// wait for it; errors that are not the GPU's (data, quota, divergence) never count as a loss.
import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError, GpuError } from '../gpu/errors';
import type { Gpu } from '../gpu/gpu';
import { deviceWasLost } from './run';

const gpuWith = (lost: Promise<{ reason: string; message: string }>) => ({ device: { lost } }) as unknown as Gpu;
const never = new Promise<{ reason: string; message: string }>(() => undefined);

describe('deviceWasLost', () => {
  it('a read-back error on a device whose loss settles becomes GpuDeviceLostError naming the reason', async () => {
    const lost = new Promise<{ reason: string; message: string }>((resolve) => setTimeout(() => resolve({ reason: 'destroyed', message: 'Device was destroyed.' }), 10));
    const e = await deviceWasLost(gpuWith(lost), new GpuError('reading back loss failed: mapping aborted'));
    expect(e).toBeInstanceOf(GpuDeviceLostError);
    expect(e?.message).toBe('GPU device lost (destroyed: Device was destroyed.)');
  });

  it('a DOMException from mapAsync counts too', async () => {
    const e = await deviceWasLost(gpuWith(Promise.resolve({ reason: 'unknown', message: '' })), new DOMException('aborted', 'AbortError'));
    expect(e?.message).toBe('GPU device lost (unknown: no message)');
  });

  it('a GpuDeviceLostError is itself', async () => {
    const lost = new GpuDeviceLostError('GPU device lost (x)');
    expect(await deviceWasLost(gpuWith(never), lost)).toBe(lost);
  });

  it('an error not from the GPU layer is no loss, even on a lost device', async () => {
    const gpu = gpuWith(Promise.resolve({ reason: 'destroyed', message: '' }));
    expect(await deviceWasLost(gpu, new Error('Not enough browser storage'))).toBeNull();
    expect(await deviceWasLost(gpu, Object.assign(new Error('diverged'), { name: 'DivergenceError' }))).toBeNull();
  });

  it('a GPU error on a device that stays alive is no loss', async () => {
    expect(await deviceWasLost(gpuWith(never), new GpuError('validation'))).toBeNull();
  });
});
