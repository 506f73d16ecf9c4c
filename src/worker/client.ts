// The page's side of the worker protocol: `call(method, params)` returns a promise for the
// method's typed result; events (training steps, …) go to listeners. The UI never posts messages
// itself; src/state is the only caller.
import { EngineError, type FromWorker, type GenerateSide, type Method, type Params, type Progress, type Result, type WorkerEvent } from './protocol';

/** What the client needs of a Worker (a MessagePort-like object in tests). */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  addEventListener(type: 'error', listener: (ev: ErrorEvent) => void): void;
  terminate(): void;
}

export interface CallOptions {
  transfer?: Transferable[];
  onProgress?: (p: Progress) => void;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  onProgress?: (p: Progress) => void;
}

export type EventListener = (ev: Exclude<WorkerEvent, { type: 'progress' }>) => void;

export class EngineClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<EventListener>();
  private dead: EngineError | null = null;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (ev: MessageEvent) => this.receive(ev.data as FromWorker));
    worker.addEventListener('error', (ev: ErrorEvent) => {
      this.fail(new EngineError({ name: 'WorkerError', message: ev.message || 'the engine worker failed to start or crashed' }));
    });
  }

  call<M extends Method>(method: M, params: Params<M>, options: CallOptions = {}): Promise<Result<M>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onProgress: options.onProgress });
      this.worker.postMessage({ kind: 'request', id, method, params }, options.transfer ?? []);
    });
  }

  /**
   * "Try it": calls `generate` and passes the text of each side, as it grows, to `onText` until the
   * reply (the worker sends every `generated` event of a request before its reply).
   */
  generate(params: Params<'generate'>, onText: (side: GenerateSide, text: string, tokens: number, done: boolean) => void): Promise<Result<'generate'>> {
    const id = this.nextId; // the id `call` gives this request
    const off = this.on((ev) => {
      if (ev.type === 'generated' && ev.id === id) onText(ev.side, ev.text, ev.tokens, ev.done);
    });
    return this.call('generate', params).finally(off);
  }

  /** Listens to worker events other than per-request progress. Returns the unsubscribe. */
  on(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  terminate(): void {
    this.worker.terminate();
    this.fail(new EngineError({ name: 'WorkerTerminated', message: 'the engine worker was stopped' }));
  }

  private receive(msg: FromWorker): void {
    if (msg.kind === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new EngineError(msg.error));
      return;
    }
    if (msg.type === 'progress') {
      this.pending.get(msg.id)?.onProgress?.(msg.progress);
      return;
    }
    for (const l of this.listeners) l(msg);
  }

  private fail(error: EngineError): void {
    this.dead = error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

/** The engine worker of the studio. */
export function startEngineWorker(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'lora-studio-engine' });
  return new EngineClient(worker);
}
