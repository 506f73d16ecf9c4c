// One typed request/reply/event layer for every worker of the app (the engine worker, the model
// import worker, the benchmark worker). Each worker declares its methods as a map
//   { method: { params: P; result: R } }
// and its events as a union of { kind: 'event'; type: ...; id?: number } objects. A request
// carries an id; exactly one reply with that id answers it (ok with the result, or the thrown
// error as {name, message, ...}); events with a request's id (progress, streamed text) go to that
// call, events without one to the client's listeners. Large buffers travel as transfers.
// Pure: no DOM, no Node; works over a Worker, a worker's global scope, or a fake in tests.

export type MethodMap = { [method: string]: { params: unknown; result: unknown } };

export type MethodOf<M extends MethodMap> = keyof M & string;
export type ParamsOf<M extends MethodMap, K extends MethodOf<M>> = M[K]['params'];
export type ResultOf<M extends MethodMap, K extends MethodOf<M>> = M[K]['result'];

/** An event a worker posts; `id` ties it to the request it belongs to. */
export interface RpcEvent {
  kind: 'event';
  type: string;
  id?: number;
}

/** A thrown error as it crosses the boundary: its typed name and message (and any extra fields). */
export interface RpcErrorInfo {
  name: string;
  message: string;
}

export type RpcRequest<M extends MethodMap> = { [K in MethodOf<M>]: { kind: 'request'; id: number; method: K; params: ParamsOf<M, K> } }[MethodOf<M>];

export type RpcReply<M extends MethodMap, E extends RpcErrorInfo = RpcErrorInfo> =
  | { [K in MethodOf<M>]: { kind: 'reply'; id: number; method: K; ok: true; result: ResultOf<M, K> } }[MethodOf<M>]
  | { kind: 'reply'; id: number; method: MethodOf<M>; ok: false; error: E };

/** The payload of a worker's `progress` events, when it has any. */
export type ProgressOf<Ev extends RpcEvent> = Ev extends { type: 'progress'; progress: infer P } ? P : never;

/** What a client needs of a Worker (a MessagePort-like object in tests). */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  addEventListener(type: 'error', listener: (ev: ErrorEvent) => void): void;
  terminate(): void;
}

export interface CallOptions<Ev extends RpcEvent> {
  transfer?: Transferable[];
  /** The request's `progress` events. */
  onProgress?: (p: ProgressOf<Ev>) => void;
  /** Every other event posted with the request's id. */
  onEvent?: (ev: Ev) => void;
}

/** Turns anything thrown into the wire form, keeping its typed name. */
export function toRpcErrorInfo(e: unknown): RpcErrorInfo {
  if (typeof e !== 'object' || e === null || !('message' in e)) return { name: 'Error', message: String(e) };
  const o = e as { name?: unknown; message: unknown };
  return { name: typeof o.name === 'string' && o.name ? o.name : 'Error', message: String(o.message) };
}

/** An error that crossed a worker boundary: the same name and message as the one thrown there. */
export class RpcError extends Error {
  constructor(info: RpcErrorInfo) {
    super(info.message);
    this.name = info.name;
  }
}

interface Pending<Ev extends RpcEvent> {
  resolve(result: unknown): void;
  reject(error: Error): void;
  options: CallOptions<Ev>;
}

/** The page's side: `call(method, params)` returns a promise of the method's typed result. */
export class RpcClient<M extends MethodMap, Ev extends RpcEvent, E extends RpcErrorInfo = RpcErrorInfo> {
  private nextId = 1;
  private pending = new Map<number, Pending<Ev>>();
  private listeners = new Set<(ev: Ev) => void>();
  private dead: Error | null = null;

  constructor(
    private readonly worker: WorkerLike,
    private readonly toError: (info: E) => Error = (info) => new RpcError(info),
    /** Names the worker in the error a crash gives every pending call. */
    what = 'the worker',
  ) {
    worker.addEventListener('message', (ev: MessageEvent) => this.receive(ev.data as RpcReply<M, E> | Ev));
    worker.addEventListener('error', (ev: ErrorEvent) => {
      this.fail(this.toError({ name: 'WorkerError', message: ev.message || `${what} failed to start or crashed` } as E));
    });
  }

  call<K extends MethodOf<M>>(method: K, params: ParamsOf<M, K>, options: CallOptions<Ev> = {}): Promise<ResultOf<M, K>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<ResultOf<M, K>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, options });
      this.worker.postMessage({ kind: 'request', id, method, params }, options.transfer ?? []);
    });
  }

  /** The id the next call gets (to cancel it by id before its reply). */
  peekId(): number {
    return this.nextId;
  }

  /** Listens to events not tied to a pending request. Returns the unsubscribe. */
  on(listener: (ev: Ev) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  terminate(error: Error = this.toError({ name: 'WorkerTerminated', message: 'the worker was stopped' } as E)): void {
    this.worker.terminate();
    this.fail(error);
  }

  private receive(msg: RpcReply<M, E> | Ev): void {
    if (msg.kind === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(this.toError(msg.error));
      return;
    }
    const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
    if (p) {
      if (msg.type === 'progress') p.options.onProgress?.((msg as unknown as { progress: ProgressOf<Ev> }).progress);
      else p.options.onEvent?.(msg);
      return;
    }
    for (const l of this.listeners) l(msg);
  }

  private fail(error: Error): void {
    this.dead = error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

/** A worker's implementation of its methods; `id` is the request's, for its events. */
export type RpcHandlers<M extends MethodMap> = { [K in MethodOf<M>]: (params: ParamsOf<M, K>, id: number) => Promise<ResultOf<M, K>> };

export interface ServeOptions<M extends MethodMap, E extends RpcErrorInfo> {
  /** Buffers of a result to transfer rather than copy. */
  transfer?: (method: MethodOf<M>, result: unknown) => Transferable[];
  toErrorInfo?: (e: unknown) => E;
}

/**
 * The worker's side: returns the function to call with each request. It runs the method and posts
 * exactly one reply (the result, or the error it threw).
 */
export function rpcServer<M extends MethodMap, Ev extends RpcEvent, E extends RpcErrorInfo = RpcErrorInfo>(
  handlers: RpcHandlers<M>,
  post: (msg: RpcReply<M, E> | Ev, transfer?: Transferable[]) => void,
  options: ServeOptions<M, E> = {},
): (req: RpcRequest<M>) => Promise<void> {
  const toInfo = options.toErrorInfo ?? (toRpcErrorInfo as (e: unknown) => E);
  return async (req) => {
    const fn = handlers[req.method] as (params: unknown, id: number) => Promise<unknown>;
    try {
      if (!fn) throw new RpcError({ name: 'RpcError', message: `unknown method ${JSON.stringify(req.method)}` });
      const result = await fn(req.params, req.id);
      post({ kind: 'reply', id: req.id, method: req.method, ok: true, result } as RpcReply<M, E>, options.transfer?.(req.method, result) ?? []);
    } catch (e) {
      post({ kind: 'reply', id: req.id, method: req.method, ok: false, error: toInfo(e) });
    }
  };
}
