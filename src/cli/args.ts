// A small argv parser: `--name value`, `--name=value`, boolean `--flag`, and positionals.
// Flags listed in `withValue` take the next argument as their value.

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | undefined>;
  bools: Set<string>;
}

export function parseArgs(args: string[], withValue: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | undefined> = {};
  const bools = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (eq >= 0) flags[name] = a.slice(eq + 1);
    else if (withValue.includes(name)) {
      if (i + 1 >= args.length) throw new Error(`--${name} needs a value`);
      flags[name] = args[++i];
    } else bools.add(name);
  }
  return { positional, flags, bools };
}
