import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';
import {
  checkStorageQuota,
  DownloadTracker,
  HubAuthError,
  HubClient,
  HubIntegrityError,
  HubNetworkError,
  HubNotFoundError,
  HubQuotaError,
} from './download';
import { Sha256, sha256Hex } from './sha256';
import { UntrustedFileError } from '../io/untrusted/errors';
import { MAX_CONFIG_BYTES } from '../io/untrusted/json';
import { rng } from '../engine/kernels/random';

const TOKEN = 'hf_secretTOKEN1234567890';
const big = new Uint8Array(randomBytes(700_001));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

let hub: StandInHub;

beforeAll(async () => {
  hub = await startStandInHub({
    models: {
      'org/open': {
        files: new Map<string, Uint8Array | string>([
          ['config.json', '{"a":1}'],
          ['model.safetensors', big],
          ['sub/dir/x.txt', 'nested'],
        ]),
      },
      'org/gated': { token: TOKEN, files: new Map<string, Uint8Array | string>([['config.json', '{"gated":true}']]) },
    },
  });
});
afterAll(async () => hub.close());

describe('sha256', () => {
  it('incremental hashing matches crypto.subtle and node:crypto, across splits and a saved state', async () => {
    const data = new Uint8Array(randomBytes(10_000));
    const r = rng(7);
    for (let trial = 0; trial < 20; trial++) {
      let h = new Sha256();
      let o = 0;
      while (o < data.length) {
        const n = Math.floor(r() * 300);
        h.update(data.subarray(o, o + n));
        o += n;
        if (r() < 0.2) h = Sha256.from(JSON.parse(JSON.stringify(h.state())));
      }
      expect(h.hex()).toBe(sha(data));
    }
    expect(await sha256Hex(data)).toBe(sha(data));
    expect(new Sha256().hex()).toBe(sha(new Uint8Array(0)));
    for (const n of [55, 56, 63, 64, 65, 119, 120]) expect(new Sha256().update(data.subarray(0, n)).hex()).toBe(sha(data.subarray(0, n)));
  });
});

describe('HubClient against a local stand-in', () => {
  it('fetches small files and nested paths, verifying size', async () => {
    const c = new HubClient({ baseUrl: hub.url });
    expect(await c.text('org/open', 'main', 'config.json')).toBe('{"a":1}');
    expect(await c.text('org/open', 'main', 'sub/dir/x.txt')).toBe('nested');
    expect(c.url('org/open', 'main', 'sub/dir/x.txt')).toBe(`${hub.url}/org/open/resolve/main/sub/dir/x.txt`);
  });

  it('404 names the file and the model id; stat of a missing file is null', async () => {
    const c = new HubClient({ baseUrl: hub.url });
    const e = await c.text('org/open', 'main', 'tokenizer.json').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HubNotFoundError);
    expect((e as Error).message).toContain('tokenizer.json');
    expect((e as Error).message).toContain('org/open');
    expect(await c.stat('org/open', 'main', 'nope.safetensors')).toBeNull();
    const rev = await c.text('org/open', 'v9', 'config.json').catch((x: unknown) => x);
    expect((rev as Error).message).toContain('revision v9');
  });

  it('401 without a token and 403 with a wrong one say gated/private and never contain the token', async () => {
    const none = await new HubClient({ baseUrl: hub.url }).text('org/gated', 'main', 'config.json').catch((x: unknown) => x);
    expect(none).toBeInstanceOf(HubAuthError);
    expect((none as HubAuthError).status).toBe(401);
    expect((none as Error).message).toMatch(/gated or private/);
    expect((none as Error).message).toMatch(/license/);
    expect((none as Error).message).toMatch(/token/);
    const wrong = await new HubClient({ baseUrl: hub.url, token: 'hf_wrongwrongwrong' }).text('org/gated', 'main', 'config.json').catch((x: unknown) => x);
    expect(wrong).toBeInstanceOf(HubAuthError);
    expect((wrong as HubAuthError).status).toBe(403);
    expect((wrong as Error).message).not.toContain('hf_wrongwrongwrong');
    expect(JSON.stringify(wrong)).not.toContain('hf_wrong');
    const client = new HubClient({ baseUrl: hub.url, token: TOKEN });
    expect(await client.text('org/gated', 'main', 'config.json')).toBe('{"gated":true}');
    // The token is not reachable from the object's enumerable state.
    expect(JSON.stringify(client)).not.toContain(TOKEN);
    expect(Object.values(client).join(' ')).not.toContain(TOKEN);
    expect(hub.log.some((r) => r.model === 'org/gated' && r.auth && r.status === 200)).toBe(true);
  });

  it('an unreachable server is a network error', async () => {
    const c = new HubClient({ baseUrl: 'http://127.0.0.1:9' });
    await expect(c.text('org/open', 'main', 'config.json')).rejects.toBeInstanceOf(HubNetworkError);
  });

  it('stat reports the size and the LFS sha256 (X-Linked-Etag)', async () => {
    const c = new HubClient({ baseUrl: hub.url });
    const info = await c.stat('org/open', 'main', 'model.safetensors');
    expect(info).toEqual({ file: 'model.safetensors', size: big.byteLength, sha256: sha(big) });
    const cfg = await c.stat('org/open', 'main', 'config.json');
    expect(cfg!.sha256).toBeNull(); // git sha1 ETag: not a sha256
  });

  it('streams in order with progress, skips gaps, serves backward reads by Range, and verifies the hash', async () => {
    const c = new HubClient({ baseUrl: hub.url });
    const info = (await c.stat('org/open', 'main', 'model.safetensors'))!;
    let received = 0;
    const r = c.open('org/open', 'main', info, { onBytes: (n) => (received += n) });
    expect(await r.read(0, 8)).toEqual(big.subarray(0, 8));
    expect(await r.read(100, 1000)).toEqual(big.subarray(100, 1100));
    expect(await r.read(10, 5)).toEqual(big.subarray(10, 15)); // backward: one-off Range
    expect(await r.read(200_000, 300_000)).toEqual(big.subarray(200_000, 500_000));
    await r.finish();
    expect(received).toBe(big.byteLength);
    const gets = hub.log.filter((l) => l.method === 'GET' && l.file === 'model.safetensors');
    expect(gets.some((l) => l.range === 'bytes=10-14')).toBe(true);
  });

  it('a corrupt file fails the SHA-256 check', async () => {
    const h2 = await startStandInHub({ models: { 'o/m': { files: new Map([['model.safetensors', big]]) } } });
    try {
      h2.corrupt('o/m', 'model.safetensors', true);
      const c = new HubClient({ baseUrl: h2.url });
      const info = (await c.stat('o/m', 'main', 'model.safetensors'))!;
      const r = c.open('o/m', 'main', info, {});
      await r.read(0, 1000);
      await expect(r.finish()).rejects.toBeInstanceOf(HubIntegrityError);
    } finally {
      await h2.close();
    }
  });

  it('a dropped connection is a network error; resuming from the checkpoint uses Range and still verifies', async () => {
    const c = new HubClient({ baseUrl: hub.url });
    const info = (await c.stat('org/open', 'main', 'model.safetensors'))!;
    hub.dropOnce('model.safetensors', 300_000);
    const r = c.open('org/open', 'main', info, {});
    expect(await r.read(0, 250_000)).toEqual(big.subarray(0, 250_000));
    const cp = r.checkpoint();
    const err = await r.read(250_000, 100_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubNetworkError);
    expect((err as Error).message).toMatch(/connection was lost|ended early/);
    // Resume (e.g. after a reload) from the saved checkpoint: JSON round trip as IndexedDB would.
    const saved = JSON.parse(JSON.stringify(cp));
    const before = hub.log.length;
    const r2 = c.open('org/open', 'main', info, { resume: saved });
    expect(await r2.read(250_000, 100_000)).toEqual(big.subarray(250_000, 350_000));
    await r2.finish();
    expect(hub.log.slice(before).some((l) => l.range === 'bytes=250000-')).toBe(true);
  });

  it('cancels with an AbortSignal', async () => {
    const c = new HubClient({ baseUrl: hub.url });
    const info = (await c.stat('org/open', 'main', 'model.safetensors'))!;
    const ac = new AbortController();
    const r = c.open('org/open', 'main', info, { signal: ac.signal });
    await r.read(0, 10);
    ac.abort();
    const e = await r.read(10, 500_000).catch((x: unknown) => x);
    expect((e as Error).name).toBe('AbortError');
    await r.close();
  });
});

describe('progress and quota', () => {
  it('tracks per-file and overall bytes and a windowed speed', () => {
    let t = 0;
    const events: number[] = [];
    const tr = new DownloadTracker(new Map([['a', 1000], ['b', 3000]]), (p) => events.push(p.done), () => t);
    tr.skip('a', 1000);
    t = 1000;
    tr.add('b', 500);
    t = 2000;
    tr.add('b', 500);
    const p = tr.progress('b');
    expect(p).toMatchObject({ file: 'b', fileDone: 1000, fileTotal: 3000, done: 2000, total: 4000 });
    expect(p.bytesPerSec).toBeCloseTo(1000, 0); // 1000 bytes over 1 s (skipped bytes excluded)
    expect(events).toEqual([1500, 2000]);
  });

  it('refuses to start when the quota is short, and asks for persistence', async () => {
    let persistAsked = false;
    const storage = {
      estimate: async () => ({ usage: 900, quota: 1000 }),
      persisted: async () => false,
      persist: async () => ((persistAsked = true), true),
    };
    const e = await checkStorageQuota(200, storage).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HubQuotaError);
    expect((e as Error).message).toMatch(/needs about 200 B but only 100 B/);
    expect(persistAsked).toBe(false);
    const ok = await checkStorageQuota(50, storage);
    expect(ok).toMatchObject({ available: 100, persisted: true });
    expect(persistAsked).toBe(true);
    expect((await checkStorageQuota(1e12, null)).available).toBe(Infinity);
  });
});

describe('text files from the Hub pass the untrusted size caps', () => {
  const MIB = new Uint8Array(1 << 20);
  /** A fetch that serves `chunks` MiB of zeros for every file, with or without a Content-Length. */
  const serving = (chunks: number, declare: boolean, read: { n: number }): typeof fetch =>
    (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (read.n === chunks) return c.close();
            read.n++;
            c.enqueue(MIB.slice());
          },
        }),
        { status: 200, headers: declare ? { 'content-length': String(chunks << 20) } : {} },
      )) as typeof fetch;

  it('a config.json declared past its cap is refused before its body is read, naming the file', async () => {
    const read = { n: 0 };
    const c = new HubClient({ baseUrl: 'https://hub.example', fetch: serving(17, true, read) });
    const e = await c.text('org/m', 'main', 'config.json').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UntrustedFileError);
    expect((e as Error).message).toBe(`org/m/config.json has ${17 << 20} bytes, more than the ${MAX_CONFIG_BYTES} this file may have`);
    expect(read.n).toBeLessThanOrEqual(1); // a stream may pull one chunk ahead
  });

  it('one without a Content-Length is refused as soon as it passes the cap; tokenizer.json has its larger cap', async () => {
    const read = { n: 0 };
    const c = new HubClient({ baseUrl: 'https://hub.example', fetch: serving(40, false, read) });
    const e = await c.text('org/m', 'main', 'tokenizer_config.json').catch((x: unknown) => x);
    expect((e as Error).message).toBe(`org/m/tokenizer_config.json has ${17 << 20} bytes, more than the ${MAX_CONFIG_BYTES} this file may have`);
    expect(read.n).toBeLessThan(40);
    const ok = new HubClient({ baseUrl: 'https://hub.example', fetch: serving(20, false, { n: 0 }) });
    expect((await ok.text('org/m', 'main', 'tokenizer.json')).length).toBe(20 << 20);
  });
});
