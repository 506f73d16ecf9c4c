// The engine worker: a Handler answering the page's requests (see protocol.ts).
import { Handler } from './handler';
import type { ToWorker } from './protocol';

// The project's lib is DOM; a worker's global scope needs only these two members here.
const scope = self as unknown as {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<ToWorker>) => void): void;
};
const handler = new Handler((msg, transfer) => scope.postMessage(msg, transfer ?? []));
scope.addEventListener('message', (ev) => void handler.handle(ev.data));
