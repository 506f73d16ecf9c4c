// Bundles the CLI (src/cli/main.ts) into plain ES modules under .device/cli/ for a machine that
// has node but no node_modules (the GPU machine, see ../shared/device/README.md). Everything is
// inlined except `webgpu`, whose native dawn.node travels beside it in .device/node_modules.
import { defineConfig } from 'vite';

export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  logLevel: 'warn',
  publicDir: false,
  ssr: { noExternal: true, external: ['webgpu'] },
  build: {
    ssr: 'src/cli/main.ts',
    outDir: '.device/cli',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rolldownOptions: { external: ['webgpu'], output: { format: 'es', entryFileNames: 'main.mjs' } },
  },
});
