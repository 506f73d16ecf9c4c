// The Node command line over the same engine as the browser: `npm run --silent cli -- <command> ...`.
// Each command lives in its own file and exports `run(args: string[]): Promise<number>` (exit code).

const commands: Record<string, () => Promise<{ run: (args: string[]) => Promise<number> }>> = {
  'check-reference': () => import('./check-reference'),
  prepare: () => import('./prepare'),
  train: () => import('./train'),
  bench: () => import('./bench'),
  'bench-prepare': () => import('./bench-prepare'),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
  const load = name ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`usage: cli <${Object.keys(commands).join('|')}> [options]\n`);
    return 2;
  }
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`${e.name ?? 'Error'}: ${e.message ?? String(err)}\n`);
    process.exit(1);
  },
);
