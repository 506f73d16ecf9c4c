// Which Hub this page talks to (the build's, or an allowed `?hub=` override) and the page's own URLs:
// a leaf module that the model, dataset and push slices and the panels share.
import { chooseHub, HubEndpointError, hubPolicy, mayReceiveToken, trustedOrigins, type ChosenHub, type HubEnv } from '../hub/endpoint';

/** This build's Hub and the hosts `?hub=` may name (see src/hub/endpoint.ts). */
export const HUB_POLICY = hubPolicy(import.meta.env as HubEnv);

/**
 * The Hub for this page: the build's, or the `?hub=` override when the build allows it. A refused
 * override leaves the build's Hub in place, with the reason to show on the page.
 */
export function hubChoice(): { hub: ChosenHub; refused: string | null } {
  try {
    return { hub: chooseHub(new URLSearchParams(location.search).get('hub'), HUB_POLICY), refused: null };
  } catch (e) {
    if (!(e instanceof HubEndpointError)) throw e;
    return { hub: chooseHub(null, HUB_POLICY), refused: e.message };
  }
}

/**
 * How this page reads from its Hub: the Hub's URL, the origins allowed the access token (the
 * build's Hub, and the `?hub=` override once the user confirmed it), and the token itself only where
 * it may go (else null). The model and dataset panels and slices all read through this one rule.
 */
export function hubReadAccess(token: string, tokenOrigin: string | null): { hubUrl: string; token: string | null; trusted: string[] } {
  const hubUrl = hubChoice().hub.url;
  const trusted = trustedOrigins(HUB_POLICY, tokenOrigin);
  const t = token.trim();
  return { hubUrl, token: t && mayReceiveToken(hubUrl, trusted) ? t : null, trusted };
}

export function hubEndpoint(): string {
  return hubChoice().hub.url;
}

export function appUrl(path: string): string {
  return new URL(path, document.baseURI).href;
}
