import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedFetch, HubTokenRefusedError } from './hub-fetch';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';

describe('guardedFetch', () => {
  let hub: StandInHub;
  let other: StandInHub;
  beforeAll(async () => {
    hub = await startStandInHub({ models: {}, api: { users: { hf_tok: { name: 'alice' } } } });
    other = await startStandInHub({ models: {} });
  });
  afterAll(async () => {
    await hub.close();
    await other.close();
  });

  it('sends the token to a trusted Hub', async () => {
    const res = await guardedFetch('hf_tok', [hub.url])(`${hub.url}/api/whoami-v2`, { headers: { Authorization: 'Bearer hf_tok' } });
    expect(res.status).toBe(200);
  });

  it('refuses to send the token to another origin, and sends nothing there', async () => {
    const f = guardedFetch('hf_tok', [hub.url]);
    await expect(f(`${other.url}/api/whoami-v2`, { headers: { Authorization: 'Bearer hf_tok' } })).rejects.toThrow(HubTokenRefusedError);
    expect(other.api.apiLog).toEqual([]);
    // Other credentials (a storage service's own short-lived token) and plain requests pass.
    expect((await f(`${other.url}/api/models`, { headers: { Authorization: 'Bearer xet-token' } })).status).toBe(200);
    expect((await f(`${other.url}/api/models`)).status).toBe(200);
  });

  it('adds its abort signal to requests that carry none', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(guardedFetch(null, [], abort.signal)(`${hub.url}/api/models`)).rejects.toThrow(/abort/i);
  });
});
