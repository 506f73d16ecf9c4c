// The protocol end to end without a GPU: a client wired to a Handler through a fake worker.
import { describe, expect, it } from 'vitest';
import { EngineClient, type WorkerLike } from './client';
import { Handler } from './handler';
import { EngineError, toErrorInfo, type FromWorker, type ToWorker } from './protocol';

function connect(): EngineClient {
  const listeners: Array<(ev: MessageEvent) => void> = [];
  const handler = new Handler((msg: FromWorker) => {
    queueMicrotask(() => listeners.forEach((l) => l({ data: structuredClone(msg) } as MessageEvent)));
  });
  const worker: WorkerLike = {
    postMessage: (m) => void handler.handle(structuredClone(m) as ToWorker),
    addEventListener: ((type: string, l: (ev: MessageEvent) => void) => {
      if (type === 'message') listeners.push(l);
    }) as WorkerLike['addEventListener'],
    terminate: () => {},
  };
  return new EngineClient(worker);
}

describe('worker protocol', () => {
  it('answers each request by id, errors as {name, message}', async () => {
    const client = connect();
    const [paused, refused] = await Promise.allSettled([client.call('pause', {}), client.call('exportAdapter', {})]);
    expect(paused).toEqual({ status: 'fulfilled', value: null });
    expect(refused.status).toBe('rejected');
    const e = (refused as PromiseRejectedResult).reason as EngineError;
    expect(e).toBeInstanceOf(EngineError);
    expect(e.name).toBe('SessionError');
    expect(e.message).toContain('train an adapter first');
    await expect(client.call('loadDataset', { fileName: 'x.jsonl', bytes: new ArrayBuffer(4), skipInvalid: false })).rejects.toMatchObject({ name: 'SessionError' });
  });

  it('carries a refused dataset’s bad lines', () => {
    const info = toErrorInfo(Object.assign(new Error('refused'), { name: 'DatasetError', issues: [{ line: 3, reason: 'invalid JSON' }] }));
    expect(info).toEqual({ name: 'DatasetError', message: 'refused', lines: [{ line: 3, message: 'invalid JSON' }] });
    expect(new EngineError(info).lines).toEqual([{ line: 3, message: 'invalid JSON' }]);
  });
});
