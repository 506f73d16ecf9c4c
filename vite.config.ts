import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Cross-origin isolation lets the page use SharedArrayBuffer and worker threads; the CSP keeps
// every byte local except the Hugging Face Hub (models) and its CDN (LFS redirects).
const securityHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self' http://localhost:* http://127.0.0.1:* https://huggingface.co https://*.huggingface.co https://*.hf.co ws://localhost:*",
  ].join('; '),
};

// Point the Vulkan loader at SwiftShader when this machine has no GPU driver (tests, CI).
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  plugins: [react()],
  server: { headers: securityHeaders, port: 5173 },
  preview: { headers: securityHeaders, port: 4173 },
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
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES ? {} : { VK_ICD_FILENAMES: swiftshader },
  },
});
