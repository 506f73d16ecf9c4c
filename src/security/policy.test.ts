import { describe, expect, it } from 'vitest';
import { hubPolicy } from '../hub/endpoint';
import { contentSecurityPolicy, headersFile, parseCsp, responseHeaders } from './policy';

describe('the security policy', () => {
  it('connects only to itself and huggingface.co (with its CDN domains) by default', () => {
    const csp = parseCsp(contentSecurityPolicy(hubPolicy({}), true));
    expect(csp.get('connect-src')).toEqual(["'self'", 'blob:', 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co']);
    expect(csp.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(csp.get('worker-src')).toEqual(["'self'", 'blob:']);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.has('frame-ancestors')).toBe(false); // ignored in a <meta>: sent as a header
  });

  it('names exactly the Hubs a build chooses, without the huggingface.co CDN when the Hub is elsewhere', () => {
    const policy = hubPolicy({ VITE_HF_ENDPOINT: 'https://hub.corp.example/hf', VITE_HUB_OVERRIDES: 'http://127.0.0.1:5181' });
    expect(parseCsp(contentSecurityPolicy(policy, true)).get('connect-src')).toEqual(["'self'", 'blob:', 'https://hub.corp.example', 'http://127.0.0.1:5181']);
  });

  it('accepts inline scripts only with the dev server nonce, and only when one is given', () => {
    expect(parseCsp(contentSecurityPolicy(hubPolicy({}), false, 'abc')).get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'", "'nonce-abc'"]);
    expect(parseCsp(contentSecurityPolicy(hubPolicy({}), false)).get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
  });

  it('sends COOP/COEP and refuses framing in the headers, the same in _headers', () => {
    const policy = hubPolicy({});
    const h = responseHeaders(policy);
    expect(h['Cross-Origin-Opener-Policy']).toBe('same-origin');
    expect(h['Cross-Origin-Embedder-Policy']).toBe('require-corp');
    expect(parseCsp(h['Content-Security-Policy']).get('frame-ancestors')).toEqual(["'none'"]);
    const file = headersFile(policy).split('\n');
    expect(file[0]).toBe('/*');
    for (const [k, v] of Object.entries(h)) expect(file).toContain(`  ${k}: ${v}`);
  });
});
