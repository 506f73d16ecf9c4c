// The page's security policy, from one place: the CSP <meta> that vite.config writes into every
// built page, the response headers of the dev and preview servers, and dist/_headers (the format of
// Netlify and Cloudflare Pages) for the headers a <meta> cannot carry: COOP/COEP (cross-origin
// isolation for SharedArrayBuffer and threaded wasm) and frame-ancestors (no framing).
//
// connect-src is 'self' plus the Hubs the build names (src/hub/endpoint.ts): a `?hub=` host outside
// them is blocked by the browser too. A <meta> CSP is fixed when the page is built, so a Hub chosen
// at run time can only be one the build listed (VITE_HUB_OVERRIDES; the e2e build lists its local
// stand-in Hub there, see playwright.config.ts).
import { HUB_URL, hubOrigins, type HubPolicy } from '../hub/endpoint.ts'; // with .ts: vite.config loads this file natively

/**
 * Where huggingface.co redirects file downloads (cdn-lfs.huggingface.co, cdn-lfs*.hf.co,
 * cas-bridge.xethub.hf.co, ...): the Hub's own domains, https only.
 */
export const HUB_CDN_SOURCES = ['https://*.huggingface.co', 'https://*.hf.co'];

export function connectSources(policy: HubPolicy): string[] {
  const origins = hubOrigins(policy);
  // blob: the app reads its own object URLs (exports, wasm) with fetch.
  return ["'self'", 'blob:', ...origins, ...(origins.includes(HUB_URL) ? HUB_CDN_SOURCES : [])];
}

/**
 * The CSP; `inMeta` leaves out what a <meta> tag ignores (frame-ancestors). `devNonce`: the dev
 * server's nonce for the inline scripts Vite and React Fast Refresh inject (never in a build).
 */
export function contentSecurityPolicy(policy: HubPolicy, inMeta: boolean, devNonce?: string): string {
  const directives = [
    "default-src 'self'",
    // Compiling WebAssembly (onnxruntime-web, wllama) needs 'wasm-unsafe-eval'; no inline scripts, no eval.
    `script-src 'self' 'wasm-unsafe-eval'${devNonce ? ` 'nonce-${devNonce}'` : ''}`,
    "worker-src 'self' blob:",
    // React sets style attributes; styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src ${connectSources(policy).join(' ')}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ];
  if (!inMeta) directives.push("frame-ancestors 'none'");
  return directives.join('; ');
}

/** The page address may hold `?hub=`; requests to the Hub need no referrer (header and <meta name="referrer">). */
export const REFERRER_POLICY = 'no-referrer';

/** Response headers for every page and file of the app (`devNonce`: see contentSecurityPolicy). */
export function responseHeaders(policy: HubPolicy, devNonce?: string): Record<string, string> {
  return {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Content-Security-Policy': contentSecurityPolicy(policy, false, devNonce),
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': REFERRER_POLICY,
  };
}

/** The same headers as a `_headers` file (Netlify, Cloudflare Pages): every path. */
export function headersFile(policy: HubPolicy): string {
  const lines = Object.entries(responseHeaders(policy)).map(([k, v]) => `  ${k}: ${v}`);
  return `/*\n${lines.join('\n')}\n`;
}

/** A CSP string as directive → sources (for checks of what was built or served). */
export function parseCsp(csp: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of csp.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
}
