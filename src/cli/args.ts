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

/** A command line the command cannot honour; main prints it and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface FlagSpec {
  /** Flags that take a value. */
  values: readonly string[];
  /** Flags that stand alone. */
  bools: readonly string[];
  /** How many positional arguments the command takes (default 0). */
  positional?: number;
}

/**
 * What is wrong with `parsed` for a command taking `spec`, one message per problem: an unknown flag
 * (a typo must not silently fall back to a default), a value given to a lone flag, too many
 * positional arguments. Empty when nothing is.
 */
export function usageErrors(parsed: ParsedArgs, spec: FlagSpec): string[] {
  const errors: string[] = [];
  const all = [...spec.values, ...spec.bools].map((f) => `--${f}`).join(', ');
  for (const b of parsed.bools) {
    if (spec.values.includes(b)) errors.push(`--${b} needs a value`);
    else if (!spec.bools.includes(b)) errors.push(`--${b} is not an option here (options: ${all})`);
  }
  for (const f of Object.keys(parsed.flags)) {
    if (spec.bools.includes(f)) errors.push(`--${f} takes no value`);
    else if (!spec.values.includes(f)) errors.push(`--${f} is not an option here (options: ${all})`);
  }
  const extra = parsed.positional.slice(spec.positional ?? 0);
  if (extra.length) errors.push(`unexpected argument ${JSON.stringify(extra[0])}`);
  return errors;
}

/** parseArgs, then UsageError (naming `command` and every problem) unless the line fits `spec`. */
export function parseCommandLine(command: string, args: string[], spec: FlagSpec): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(args, [...spec.values]);
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
  const errors = usageErrors(parsed, spec);
  if (errors.length) throw new UsageError(errors.map((e) => `${command}: ${e}`).join('\n'));
  return parsed;
}
