// The served build's security policy and the access-token rule, in Chromium (issue 15):
// - every built page carries a tight CSP <meta> first in <head>, and no inline script;
// - the preview server sends COOP/COEP and frame-ancestors 'none' (as dist/_headers does), and a
//   page on another origin cannot frame the studio;
// - the CSP blocks a host the build does not name;
// - with `?hub=` naming the local stand-in Hub, the page names that host, and the token typed in
//   "Access token" reaches the stand-in only after the user confirms that host, and never the CDN
//   stand-in the Hub redirects weights files to (as huggingface.co redirects LFS files).
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { startStandInHub, type StandInHub } from '../src/hub/stand-in-server-testing';
import { parseCsp } from '../src/security/policy';
import { STAND_IN_CDN_PORT, STAND_IN_HUB_PORT, STAND_IN_ORIGINS } from './helpers';

const STAND_IN = `http://127.0.0.1:${STAND_IN_HUB_PORT}`;
const STAND_IN_CDN = `http://127.0.0.1:${STAND_IN_CDN_PORT}`;
const TOKEN = 'hf_securitySpecToken77';
const GATED = 'stand-in/gated';
const outDir = new URL(`../${process.env.E2E_OUT_DIR}/`, import.meta.url);
const demoDir = new URL('../public/demo/', import.meta.url);
const demoFiles = (): Map<string, Uint8Array | string> =>
  new Map<string, Uint8Array | string>(
    ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(new URL(f, demoDir)))]),
  );

// Written out here, not taken from src/security/policy.ts: what the e2e build may connect to.
// The e2e build lists every Playwright worker's stand-in Hub and CDN (playwright.config.ts).
const EXPECTED_CONNECT = ["'self'", 'blob:', 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co', ...STAND_IN_ORIGINS];

/** The directives a CSP must have to count as tight here. */
function expectTight(csp: Map<string, string[]>): void {
  expect(csp.get('default-src')).toEqual(["'self'"]);
  expect(csp.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
  expect(csp.get('worker-src')).toEqual(["'self'", 'blob:']);
  expect(csp.get('object-src')).toEqual(["'none'"]);
  expect(csp.get('connect-src')?.slice().sort()).toEqual(EXPECTED_CONNECT.slice().sort());
}

test('every built page carries a tight CSP <meta> before anything else in <head>', () => {
  for (const page of ['index.html', 'bench.html', 'kernels.html']) {
    const html = readFileSync(new URL(page, outDir), 'utf8');
    const head = /<head>([\s\S]*?)<\/head>/.exec(html)?.[1] ?? '';
    const first = /<(meta|script|link|style)\b[^>]*>/.exec(head.replace(/<meta charset[^>]*>/i, ''))?.[0] ?? '';
    expect(first, page).toMatch(/^<meta http-equiv="Content-Security-Policy"/);
    const content = /content="([^"]*)"/.exec(first)![1].replace(/&#39;/g, "'").replace(/&quot;/g, '"');
    const csp = parseCsp(content);
    expectTight(csp);
    expect(csp.has('frame-ancestors'), `${page}: frame-ancestors is ignored in a <meta>`).toBe(false);
    expect(head, page).toContain('<meta name="referrer" content="no-referrer"');
    // No inline script: every <script> has a src.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag, page).toMatch(/\ssrc=/);
  }
  const headers = readFileSync(new URL('_headers', outDir), 'utf8');
  expect(headers).toMatch(/^\/\*\n/);
  expect(headers).toContain("frame-ancestors 'none'");
  expect(headers).toContain('Cross-Origin-Embedder-Policy: require-corp');
});

test('the preview server sends the same policy as headers, and the studio cannot be framed', async ({ page, request, baseURL }) => {
  const res = await request.get('/');
  expect(res.headers()['cross-origin-opener-policy']).toBe('same-origin');
  expect(res.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  const csp = parseCsp(res.headers()['content-security-policy']);
  expectTight(csp);
  expect(csp.get('frame-ancestors')).toEqual(["'none'"]);

  // A page on another origin tries to frame the studio.
  await page.route('http://framer.test/', (route) => route.fulfill({ contentType: 'text/html', body: `<iframe id="f" src="${baseURL}/"></iframe>` }));
  await page.goto('http://framer.test/', { waitUntil: 'load' }); // waits for the iframe's load too
  const child = page.frames().find((f) => f !== page.mainFrame())!;
  expect(child.url().startsWith(baseURL!), child.url()).toBe(false); // Chromium shows chrome-error://chromewebdata/
  expect(await page.frameLocator('#f').locator('#root').count()).toBe(0);
});

async function openStudio(page: Page, query: string): Promise<void> {
  await page.goto(`/${query}`);
  await expect(page.getByRole('heading', { name: 'LoRA Studio' })).toBeVisible();
  await expect(page.getByText(/GPU: /)).toBeVisible({ timeout: 60_000 });
}

test('the page refuses a ?hub= the build does not name, and its CSP blocks that host', async ({ page }) => {
  await openStudio(page, '?hub=https://evil.example');
  await expect(page.getByRole('alert')).toContainText(/Hub address refused.*evil\.example.*not a Hub this build may connect to/);
  const blocked = await page.evaluate(async () => {
    const violation = new Promise<string>((r) => document.addEventListener('securitypolicyviolation', (e) => r(e.effectiveDirective), { once: true }));
    const fetched = await fetch('http://127.0.0.1:9/').then(() => 'fetched', (e: Error) => e.name);
    return { fetched, directive: await violation };
  });
  expect(blocked).toEqual({ fetched: 'TypeError', directive: 'connect-src' });
});

test.describe('the access token and a ?hub= override', () => {
  let hub: StandInHub;
  let cdn: StandInHub;
  test.beforeEach(async () => {
    hub = await startStandInHub({ port: STAND_IN_HUB_PORT, models: { [GATED]: { files: demoFiles(), token: TOKEN, lfsRedirect: STAND_IN_CDN } } });
    cdn = await startStandInHub({ port: STAND_IN_CDN_PORT, models: { [GATED]: { files: demoFiles() } } });
  });
  test.afterEach(async () => {
    await hub.close();
    await cdn.close();
  });

  test('is shown, and receives the token only after the user confirms the host; its CDN never does', async ({ page }, testInfo) => {
    await openStudio(page, `?hub=${encodeURIComponent(STAND_IN)}`);
    const notice = page.getByRole('note', { name: 'Hub override' });
    await expect(notice).toContainText(`Models download from 127.0.0.1:${STAND_IN_HUB_PORT}`);
    const confirm = notice.getByRole('checkbox', { name: `Send my token to 127.0.0.1:${STAND_IN_HUB_PORT}` });
    await expect(confirm).not.toBeChecked();

    await page.getByLabel('Access token').fill(TOKEN);
    await page.getByLabel('Hugging Face model id').fill(GATED);
    await page.getByRole('button', { name: 'Load model' }).click();
    await expect(page.getByRole('alert')).toContainText(`Your access token was not sent to 127.0.0.1:${STAND_IN_HUB_PORT}`);
    expect(hub.log.length).toBeGreaterThan(0);
    expect(hub.log.filter((r) => r.auth)).toEqual([]);
    await page.screenshot({ path: testInfo.outputPath('unconfirmed.png'), fullPage: true });

    await confirm.check();
    const before = hub.log.length;
    await page.getByRole('button', { name: 'Load model' }).click();
    await expect.poll(() => hub.log.slice(before).filter((r) => r.auth && r.status < 300).length, { timeout: 60_000 }).toBeGreaterThan(0);
    // The weights: the Hub (token checked) redirects them to the CDN, which must see no token.
    await expect.poll(() => cdn.log.filter((r) => r.file === 'model.safetensors' && r.method === 'GET' && r.status < 300).length, { timeout: 120_000 }).toBeGreaterThan(0);
    expect(hub.log.some((r) => r.status === 302 && r.auth)).toBe(true);
    expect(hub.log.slice(before).every((r) => r.auth)).toBe(true);
    expect(cdn.log.filter((r) => r.auth)).toEqual([]);
    await page.getByRole('button', { name: 'Cancel' }).click().catch(() => {});
  });
});
