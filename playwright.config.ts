// Playwright: real headless Debian Chromium with WebGPU on SwiftShader, against the built app
// (`vite build && vite preview`, built once for the whole run), so the specs exercise what ships.
// Two workers (E2E_WORKERS picks another count): a spec spends much of its time waiting on its page
// (loading models, compiling pipelines, downloads), so two specs side by side use the two cores of
// the test machine better than one. Specs do not share state: each test gets a fresh browser
// context (its own IndexedDB and storage), and each worker its own stand-in Hub ports (below).
//
// Several people run specs in one checkout at once: E2E_PORT (default 4173) picks the port, and
// each port builds into its own dist/e2e-PORT, so one run never serves another's half-written
// build. Give a parallel run its own `--output` folder too (Playwright empties it at start).
import { defineConfig } from '@playwright/test';

const PORT = Number(process.env.E2E_PORT ?? 4173);
const OUT_DIR = `dist/e2e-${PORT}`;
// The specs' stand-in Hub listens on a fixed port so the build can name it: a built page's CSP is
// fixed at build time and connects only to the Hubs the build lists (src/security/policy.ts). The
// e2e build lists this one and its CDN stand-in (the next port, where it redirects weights files)
// as `?hub=` overrides (VITE_HUB_OVERRIDES); its Hub stays huggingface.co.
// With several workers, worker i's stand-in Hub listens on HUB_PORT + 100·i and its CDN stand-in on
// the port after (STAND_IN_HUB_PORT in e2e/helpers.ts), and the build lists all of them.
const HUB_PORT = Number(process.env.E2E_HUB_PORT ?? PORT + 1000);
const WORKERS = Number(process.env.E2E_WORKERS ?? 2);
process.env.E2E_HUB_PORT = String(HUB_PORT);
process.env.E2E_OUT_DIR = OUT_DIR;
const hubOverrides = Array.from({ length: WORKERS }, (_, i) => HUB_PORT + 100 * i)
  .flatMap((p) => [`http://127.0.0.1:${p}`, `http://127.0.0.1:${p + 1}`])
  .join(' ');
process.env.E2E_HUB_OVERRIDES = hubOverrides;

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  workers: WORKERS,
  fullyParallel: false,
  retries: 0,
  // SwiftShader runs WGSL on the CPU: kernel checks and training steps take a while.
  timeout: 10 * 60_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${PORT}`,
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    acceptDownloads: true,
    actionTimeout: 60_000,
    navigationTimeout: 120_000,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        '--enable-unsafe-swiftshader',
        '--disable-background-networking',
        '--no-sandbox',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium' }],
  webServer: {
    command: `npx vite build --outDir ${OUT_DIR} --emptyOutDir && npx vite preview --outDir ${OUT_DIR} --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}/`,
    // A server already on the port may serve another checkout's build: opt in explicitly.
    reuseExistingServer: process.env.E2E_REUSE_SERVER === '1',
    timeout: 300_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { VITE_HUB_OVERRIDES: hubOverrides },
  },
});
