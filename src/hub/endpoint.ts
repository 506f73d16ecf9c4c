// Which Hub the studio downloads from, and which hosts may receive the access token.
//
// - The Hub is https://huggingface.co unless the build names another endpoint (VITE_HF_ENDPOINT).
// - `?hub=` in the page address overrides it for that page (a mirror, a local stand-in Hub), but
//   only toward an origin the build allows: its endpoint or one listed in VITE_HUB_OVERRIDES. The
//   page's Content-Security-Policy (src/security/policy.ts, built from the same policy) blocks every
//   other host anyway; refusing here says why instead of failing as a blocked request.
// - The token goes only to the build's endpoint, or to an override origin the user confirmed on
//   the page, and never over plain http except to this machine (loopback). `mayReceiveToken` is
//   the one rule: the page asks it before handing the token to the import worker, and HubClient
//   asks it again before every request.
// - Redirects: the Hub's resolve URLs redirect LFS files to its CDN on another origin; fetch drops
//   Authorization on a cross-origin redirect (Fetch standard, "HTTP-redirect fetch"), and HubClient
//   never follows redirects itself, so the token goes no further than the Hub.

export const HUB_URL = 'https://huggingface.co';

/** An endpoint setting or a `?hub=` address that cannot be used; the message names where it came from. */
export class HubEndpointError extends Error {
  override name = 'HubEndpointError';
}

export interface HubPolicy {
  /** The Hub this build downloads from (no trailing slash); it receives the token. */
  endpoint: string;
  /** Origins a `?hub=` may name besides the endpoint's; they get the token only once confirmed. */
  overrides: readonly string[];
}

/** The build-time settings (Vite's import.meta.env, or process.env in vite.config). */
export interface HubEnv {
  VITE_HF_ENDPOINT?: string;
  VITE_HUB_OVERRIDES?: string;
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** At most 120 characters of an untrusted value, for a message. */
const shown = (raw: string): string => JSON.stringify(raw.length > 120 ? `${raw.slice(0, 120)}…` : raw);

/** A Hub base URL checked and normalized (origin + path, no trailing slash). `where` names the setting. */
export function checkHubUrl(raw: string, where: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new HubEndpointError(`${where}: ${shown(raw)} is not a URL (expected https://host)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new HubEndpointError(`${where}: ${shown(raw)} is not an http(s) address (scheme ${u.protocol})`);
  }
  if (u.username || u.password) throw new HubEndpointError(`${where}: ${shown(raw)} must not carry a user name or password`);
  if (u.search || u.hash) throw new HubEndpointError(`${where}: ${shown(raw)} must not carry a query (?) or fragment (#)`);
  if (u.protocol === 'http:' && !isLoopback(u.hostname)) {
    throw new HubEndpointError(`${where}: ${shown(raw)} uses plain http, allowed only for this machine (localhost); use https`);
  }
  return (u.origin + u.pathname).replace(/\/+$/, '');
}

export function hubPolicy(env: HubEnv): HubPolicy {
  const endpoint = env.VITE_HF_ENDPOINT?.trim() ? checkHubUrl(env.VITE_HF_ENDPOINT, 'VITE_HF_ENDPOINT') : HUB_URL;
  const overrides = (env.VITE_HUB_OVERRIDES ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((o) => new URL(checkHubUrl(o, 'VITE_HUB_OVERRIDES')).origin);
  return { endpoint, overrides: [...new Set(overrides)] };
}

/** Every origin the build may download from: the endpoint's, then the overrides. */
export function hubOrigins(policy: HubPolicy): string[] {
  return [...new Set([new URL(policy.endpoint).origin, ...policy.overrides])];
}

export interface ChosenHub {
  /** Base URL the downloads use. */
  url: string;
  origin: string;
  /** Host (and port) to name on the page. */
  host: string;
  /** Chosen by `?hub=` and on another origin than the build's endpoint: shown on the page. */
  override: boolean;
}

/** The Hub for a page whose address has `?hub=query` (null: none). Throws HubEndpointError. */
export function chooseHub(query: string | null, policy: HubPolicy): ChosenHub {
  const endpointOrigin = new URL(policy.endpoint).origin;
  const url = query === null || query.trim() === '' ? policy.endpoint : checkHubUrl(query, '?hub=');
  const u = new URL(url);
  if (!hubOrigins(policy).includes(u.origin)) {
    throw new HubEndpointError(
      `?hub=: ${shown(query!)} is not a Hub this build may connect to (its security policy allows ${hubOrigins(policy).join(', ')}). ` +
        'A build names other Hubs with VITE_HF_ENDPOINT or VITE_HUB_OVERRIDES.',
    );
  }
  return { url, origin: u.origin, host: u.host, override: u.origin !== endpointOrigin };
}

/** Origins trusted with the token: the build's endpoint, plus the override origin the user confirmed. */
export function trustedOrigins(policy: HubPolicy, confirmed: string | null): string[] {
  const out = [new URL(policy.endpoint).origin];
  if (confirmed !== null && policy.overrides.includes(confirmed)) out.push(confirmed);
  return out;
}

/** The one rule: whether a request to `url` may carry the access token. */
export function mayReceiveToken(url: string, trusted: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname))) return false;
  return trusted.includes(u.origin);
}
