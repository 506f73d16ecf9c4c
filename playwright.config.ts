// Playwright: real headless Debian Chromium with WebGPU on SwiftShader, against the built app
// (`vite build && vite preview`), so the specs exercise what ships. One worker: SwiftShader is slow
// and the test machine has two cores.
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
const HUB_PORT = Number(process.env.E2E_HUB_PORT ?? PORT + 1000);
process.env.E2E_HUB_PORT = String(HUB_PORT);
process.env.E2E_OUT_DIR = OUT_DIR;

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  workers: 1,
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
    env: { VITE_HUB_OVERRIDES: `http://127.0.0.1:${HUB_PORT} http://127.0.0.1:${HUB_PORT + 1}` },
  },
});
