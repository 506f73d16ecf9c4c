// The one engine worker of the page, started on first use.
import { startEngineWorker, type EngineClient } from '../worker/client';

let client: EngineClient | null = null;

export function engine(): EngineClient {
  client ??= startEngineWorker();
  return client;
}
