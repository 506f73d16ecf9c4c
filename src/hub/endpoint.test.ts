// The token rule (mayReceiveToken), the Hub address checks, and what HubClient sends, including
// across a redirect from the Hub to a CDN on another origin (two local servers).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubClient } from './download';
import { checkHubUrl, chooseHub, HUB_URL, HubEndpointError, hubPolicy, mayReceiveToken, trustedOrigins } from './endpoint';

const TOKEN = 'hf_redirectTestToken42';

describe('mayReceiveToken', () => {
  const hub = ['https://huggingface.co'];
  it('allows the trusted origin over https, any path', () => {
    expect(mayReceiveToken('https://huggingface.co/org/m/resolve/main/config.json', hub)).toBe(true);
  });
  it('refuses every other origin: subdomains, look-alikes, other ports, other schemes', () => {
    for (const url of [
      'https://cdn-lfs.huggingface.co/x',
      'https://huggingface.co.evil.com/x',
      'https://evil.com/huggingface.co',
      'https://huggingface.co:8443/x',
      'http://huggingface.co/x',
      'ws://huggingface.co/x',
      'not a url',
      '',
    ]) {
      expect(mayReceiveToken(url, hub), url).toBe(false);
    }
  });
  it('refuses credentials in the URL even for the trusted origin', () => {
    expect(mayReceiveToken('https://user:pw@huggingface.co/x', hub)).toBe(false);
  });
  it('refuses plain http to a remote host even when trusted, allows it to loopback', () => {
    expect(mayReceiveToken('http://mirror.example/x', ['http://mirror.example'])).toBe(false);
    expect(mayReceiveToken('http://127.0.0.1:5181/x', ['http://127.0.0.1:5181'])).toBe(true);
    expect(mayReceiveToken('http://localhost:5181/x', ['http://127.0.0.1:5181'])).toBe(false);
  });
});

describe('the Hub a page uses', () => {
  const policy = hubPolicy({ VITE_HUB_OVERRIDES: 'http://127.0.0.1:5181 https://mirror.example/' });

  it('is huggingface.co unless the build names another endpoint', () => {
    expect(hubPolicy({}).endpoint).toBe(HUB_URL);
    expect(hubPolicy({ VITE_HF_ENDPOINT: 'https://hub.corp.example/hf/' }).endpoint).toBe('https://hub.corp.example/hf');
    expect(policy.overrides).toEqual(['http://127.0.0.1:5181', 'https://mirror.example']);
    expect(chooseHub(null, policy)).toEqual({ url: HUB_URL, origin: HUB_URL, host: 'huggingface.co', override: false });
  });

  it('takes ?hub= only toward a host the build allows, and marks it as an override', () => {
    expect(chooseHub('http://127.0.0.1:5181', policy)).toMatchObject({ url: 'http://127.0.0.1:5181', host: '127.0.0.1:5181', override: true });
    expect(chooseHub('https://huggingface.co/', policy).override).toBe(false);
    expect(() => chooseHub('https://evil.example', policy)).toThrow(/not a Hub this build may connect to/);
    expect(() => chooseHub('http://127.0.0.1:9999', policy)).toThrow(HubEndpointError);
  });

  it('refuses malformed addresses with a message naming the setting', () => {
    const cases: Array<[string, RegExp]> = [
      ['javascript:alert(1)', /\?hub=.*not an http\(s\) address/],
      ['file:///etc/passwd', /not an http\(s\) address/],
      ['https://user:pw@huggingface.co', /user name or password/],
      ['https://huggingface.co/?x=1', /query/],
      ['https://huggingface.co/#x', /fragment/],
      ['http://mirror.example', /plain http/],
      ['huggingface.co', /not a URL/],
    ];
    for (const [raw, msg] of cases) expect(() => checkHubUrl(raw, '?hub='), raw).toThrow(msg);
    expect(() => hubPolicy({ VITE_HF_ENDPOINT: 'ftp://x' })).toThrow(/^VITE_HF_ENDPOINT: /);
    expect(() => hubPolicy({ VITE_HUB_OVERRIDES: 'https://ok.example http://remote.example' })).toThrow(/^VITE_HUB_OVERRIDES: .*plain http/);
  });

  it('trusts an override with the token only once confirmed, and only an override the build lists', () => {
    const hub = chooseHub('http://127.0.0.1:5181', policy);
    expect(mayReceiveToken(hub.url, trustedOrigins(policy, null))).toBe(false);
    expect(mayReceiveToken(hub.url, trustedOrigins(policy, 'https://mirror.example'))).toBe(false);
    expect(mayReceiveToken(hub.url, trustedOrigins(policy, hub.origin))).toBe(true);
    expect(trustedOrigins(policy, 'https://evil.example')).toEqual([HUB_URL]);
  });
});

describe('HubClient attaches the token only where the rule allows', () => {
  const seen = (baseUrl: string, tokenOrigins?: string[]) => {
    const auth: Array<string | null> = [];
    const fetch = (async (_url: string, init?: RequestInit) => {
      auth.push(new Headers(init?.headers).get('authorization'));
      return new Response('{}', { status: 200 });
    }) as typeof globalThis.fetch;
    return { client: new HubClient({ baseUrl, token: TOKEN, fetch, tokenOrigins }), auth };
  };
  it('sends it to its own https Hub, not to a plain-http remote one or an origin outside tokenOrigins', async () => {
    const a = seen('https://huggingface.co');
    await a.client.text('o/m', 'main', 'config.json');
    expect(a.auth).toEqual([`Bearer ${TOKEN}`]);
    const b = seen('http://mirror.example');
    await b.client.text('o/m', 'main', 'config.json');
    expect(b.auth).toEqual([null]);
    expect(b.client.hasToken).toBe(false);
    const c = seen('https://mirror.example', ['https://huggingface.co']);
    await c.client.text('o/m', 'main', 'config.json');
    expect(c.auth).toEqual([null]);
  });
});

// A Hub that redirects every file to a CDN on another origin (127.0.0.1 vs localhost), as
// huggingface.co redirects LFS files to cdn-lfs.hf.co; the CDN records what it receives.
describe('a redirect from the Hub to another origin', () => {
  let hubServer: Server;
  let cdn: Server;
  let hubUrl: string;
  const hubAuth: Array<string | undefined> = [];
  const cdnAuth: Array<string | undefined> = [];
  const listen = async (s: Server): Promise<number> => {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  };

  beforeAll(async () => {
    cdn = createServer((req: IncomingMessage, res) => {
      cdnAuth.push(req.headers.authorization);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '2' });
      res.end('{}');
    });
    const cdnPort = await listen(cdn);
    hubServer = createServer((req, res) => {
      hubAuth.push(req.headers.authorization);
      if (req.url?.startsWith('/cdn/')) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '2' });
        res.end('{}');
        return;
      }
      const sameOrigin = req.url?.includes('same-origin');
      res.writeHead(302, { Location: sameOrigin ? `/cdn${req.url}` : `http://localhost:${cdnPort}/cdn${req.url}` });
      res.end();
    });
    hubUrl = `http://127.0.0.1:${await listen(hubServer)}`;
  });
  afterAll(async () => {
    await new Promise((r) => hubServer.close(r));
    await new Promise((r) => cdn.close(r));
  });

  it('carries the token to the Hub only; the CDN receives no Authorization', async () => {
    const client = new HubClient({ baseUrl: hubUrl, token: TOKEN });
    expect(await client.text('o/m', 'main', 'config.json')).toBe('{}');
    expect(hubAuth).toEqual([`Bearer ${TOKEN}`]);
    expect(cdnAuth).toEqual([undefined]);
  });

  it('keeps it on a redirect within the Hub (so the case above is a real cross-origin drop)', async () => {
    hubAuth.length = 0;
    const client = new HubClient({ baseUrl: hubUrl, token: TOKEN });
    expect(await client.text('o/same-origin', 'main', 'config.json')).toBe('{}');
    expect(hubAuth).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
  });
});
