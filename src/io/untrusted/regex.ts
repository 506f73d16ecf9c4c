// Regular expressions taken from untrusted files (adapter_config.json's target_modules,
// exclude_modules, rank_pattern / alpha_pattern keys) run on re2js: RE2's automaton matches in
// time linear in the input, so `(.|.)*X` cannot backtrack for ever as it would with `new RegExp`.
// Python `re` syntax that RE2 cannot express (backreferences, lookaround) is refused by name.

import { RE2JS } from 're2js';
import type { Fail } from './errors';

/** Longer patterns are refused: real ones are tens of characters. */
export const MAX_PATTERN_LENGTH = 4096;

/** A compiled pattern; `fullMatch` is Python's re.fullmatch. */
export interface SafeRegex {
  fullMatch(s: string): boolean;
}

/**
 * Compiles `pattern` (Python re syntax, the common subset RE2 reads) for full-string matching.
 * `field` names where it came from in the refusal.
 */
export function compileSafeRegex(pattern: string, field: string, fail: Fail): SafeRegex {
  if (pattern.length > MAX_PATTERN_LENGTH) fail(field, `is a regular expression of ${pattern.length} characters, more than the ${MAX_PATTERN_LENGTH} allowed`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const why = /\\[1-9]|\(\?<?[=!]/.test(pattern)
      ? 'backreferences and lookaround are not supported (the engine matches in linear time)'
      : String((e as Error).message);
    return fail(field, `regular expression ${JSON.stringify(pattern.slice(0, 200))} cannot be used: ${why}`);
  }
  return { fullMatch: (s) => re.matches(s) };
}
