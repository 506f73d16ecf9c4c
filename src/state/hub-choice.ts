// Which Hub this page talks to (the build's, or an allowed `?hub=` override) and the page's own URLs:
// a leaf module that the model, dataset and push slices and the panels share.
import { chooseHub, HubEndpointError, hubPolicy, type ChosenHub, type HubEnv } from '../hub/endpoint';

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

export function hubEndpoint(): string {
  return hubChoice().hub.url;
}

export function appUrl(path: string): string {
  return new URL(path, document.baseURI).href;
}
