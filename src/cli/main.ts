// The Node command line over the same engine as the browser: `npm run --silent cli -- <command> ...`.
// Each command lives in its own file and exports `run(args: string[]): Promise<number>` (exit code).

const commands: Record<string, () => Promise<{ run: (args: string[]) => Promise<number> }>> = {
  'check-reference': () => import('./check-reference'),
  prepare: () => import('./prepare'),
  train: () => import('./train'),
  bench: () => import('./bench'),
  estimate: () => import('./estimate'),
  'bench-prepare': () => import('./bench-prepare'),
  'bench-import': () => import('./bench-import'),
  'bench-load': () => import('./bench-load'),
  'bench-parquet': () => import('./bench-parquet'),
  export: () => import('./export'),
};

async function main(argv: string[]): Promise<number> {
  while (argv[0] === '--') argv = argv.slice(1);
  const [name, ...rest] = argv;
  const load = name ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`usage: cli <${Object.keys(commands).join('|')}> [options]\n`);
    return 2;
  }
  return (await load()).run(rest);
}

// SIGTERM ends a command at once, even inside a long synchronous step (tokenizing a huge record):
// vite's dev server, which vite-node runs, listens for SIGTERM to close itself first, and a listener
// only runs when the event loop turns. Without one the signal's default action ends the process.
// train listens for it only around its steps (it then checkpoints, as on Ctrl-C).
for (const listener of process.listeners('SIGTERM')) process.removeListener('SIGTERM', listener);

// Top-level await: vite-node closes its module server once this module finishes evaluating, so the
// commands (imported lazily) must load before that.
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const e = err as Error;
  if (e.name === 'UsageError') {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${e.name ?? 'Error'}: ${e.message ?? String(err)}\n`);
  process.exitCode = 1;
}
export {};
