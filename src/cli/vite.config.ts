// Vite settings for running the CLI under vite-node: no browser dependency optimizer (its
// re-optimisation restarts the server mid-run), no React plugin.
import { defineConfig } from 'vite';

export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  optimizeDeps: { noDiscovery: true, include: [] },
  server: { watch: null },
  logLevel: 'error',
});
