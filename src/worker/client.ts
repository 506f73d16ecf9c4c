// The page's side of the engine worker: an RpcClient (src/util/rpc.ts) over protocol.ts's methods.
// `call(method, params)` returns a promise for the method's typed result; events (training steps,
// …) go to listeners. The UI never posts messages itself; src/state is the only caller.
import { RpcClient, type CallOptions as RpcCallOptions, type WorkerLike } from '../util/rpc';
import { EngineError, type ErrorInfo, type GenerateSide, type Methods, type Params, type Result, type WorkerEvent } from './protocol';

export type { WorkerLike };
export type CallOptions = RpcCallOptions<WorkerEvent>;
export type EventListener = (ev: Exclude<WorkerEvent, { type: 'progress' }>) => void;

export class EngineClient extends RpcClient<Methods, WorkerEvent, ErrorInfo> {
  constructor(worker: WorkerLike) {
    super(worker, (info) => new EngineError(info), 'the engine worker');
  }

  /**
   * "Try it": calls `generate` and passes the text of each side, as it grows, to `onText` until the
   * reply (the worker sends every `generated` event of a request before its reply).
   */
  generate(params: Params<'generate'>, onText: (side: GenerateSide, text: string, tokens: number, done: boolean) => void): Promise<Result<'generate'>> {
    return this.call('generate', params, {
      onEvent: (ev) => {
        if (ev.type === 'generated') onText(ev.side, ev.text, ev.tokens, ev.done);
      },
    });
  }

  override terminate(): void {
    super.terminate(new EngineError({ name: 'WorkerTerminated', message: 'the engine worker was stopped' }));
  }
}

/** The engine worker of the studio. */
export function startEngineWorker(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'lora-studio-engine' });
  return new EngineClient(worker);
}
