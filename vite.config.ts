import { defineConfig } from 'vitest/config';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { loadEnv, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { hubPolicy, type HubPolicy } from './src/hub/endpoint.ts';
import { contentSecurityPolicy, headersFile, REFERRER_POLICY, responseHeaders } from './src/security/policy.ts';

// The security policy (CSP, COOP/COEP, frame-ancestors) comes from src/security/policy.ts, for the
// Hubs this build names (VITE_HF_ENDPOINT, VITE_HUB_OVERRIDES; an invalid one fails the build):
// the dev and preview servers send it as headers, every built page carries the CSP as its first
// <meta>, and dist/_headers ships the headers for static hosts.

// Read once for every mode: .env, .env.local and the environment (mode-specific .env files are not read).
const policy = hubPolicy(loadEnv('', process.cwd(), 'VITE_'));

// The dev server's pages have inline scripts (Vite's, React Fast Refresh's preamble): Vite marks
// them with this nonce (html.cspNonce), which only the dev server's CSP accepts.
const devNonce = randomBytes(18).toString('base64');

function securityPolicy(policy: HubPolicy): Plugin[] {
  const dev: Plugin = { name: 'lora-studio-security-policy-dev', apply: 'serve', config: () => ({ html: { cspNonce: devNonce } }) };
  const build: Plugin = {
    name: 'lora-studio-security-policy',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: () => [
        { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy(policy, true) }, injectTo: 'head-prepend' },
        { tag: 'meta', attrs: { name: 'referrer', content: REFERRER_POLICY }, injectTo: 'head' },
      ],
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '_headers', source: headersFile(policy) });
    },
  };
  return [dev, build];
}

// Point the Vulkan loader at SwiftShader when this machine has no GPU driver (tests, CI).
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  plugins: [react(), ...securityPolicy(policy)],
  server: { headers: responseHeaders(policy, devNonce), port: 5173 },
  preview: { headers: responseHeaders(policy), port: 4173 },
  worker: { format: 'es' },
  // Pages: the studio (index.html), the kernel-check page that e2e/kernels.spec.ts drives, and the
  // benchmark page (bench.html, e2e/bench.spec.ts).
  build: {
    target: 'es2022',
    rolldownOptions: { input: { main: 'index.html', kernels: 'kernels.html', bench: 'bench.html' } },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // Two test files at a time even on a two-core machine (Vitest's default there is one): a file
    // spends much of its time outside the CPU it would take from the other (CLI subprocesses
    // starting, the GPU device, files), so two side by side finish sooner than one after another.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Generous: the CLI tests train real fixtures in a subprocess (about a minute alone on 2 cores)
    // and CI may share the CPU with another job; a hang still fails, ten minutes later.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    env: process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES ? {} : { VK_ICD_FILENAMES: swiftshader },
  },
});
