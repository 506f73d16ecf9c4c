// Regular expressions inside tokenizer.json (a Split pre-tokenizer's, a Replace normalizer's,
// pre-tokenizer's or decoder's `pattern.Regex`) in linear time. @huggingface/tokenizers compiles
// them with `new RegExp` (its create_pattern) and runs them with String.prototype.match / matchAll
// / split / replaceAll, so `(a+)+$` on a line of 30 a's backtracks for minutes inside one
// synchronous call. Here each such pattern is translated from the Oniguruma syntax the Rust
// tokenizers read into RE2's and run on re2js behind the RegExp protocol (Symbol.match,
// Symbol.matchAll, Symbol.split, Symbol.replace) the library calls, so the library's own code
// runs unchanged on a linear-time matcher.
//
// Two exceptions, both exact:
// - The GPT-2 family's tail `\s+(?!\S)|\s+` (Llama 3, Qwen, Mistral's Tekken, DeepSeek, o200k) has a
//   lookahead RE2 lacks. As the last two alternatives it is translated to one capturing `(\s+)`
//   whose match is then shortened by one character when it stops before a non-space and spans two
//   or more: what a backtracking engine gives (the run minus its last space, which then joins the
//   next word; a single space falls to the plain `\s+`). Any other lookaround is refused by name.
// - VETTED_PATTERNS, the real pre-tokenizer patterns of Llama 3 and Qwen 2/3 by exact string, stay
//   on the library's native RegExp: re2js is ~13× slower than V8 on them, and they are linear under
//   backtracking (each alternative is a bounded piece or one greedy run that gives back at most
//   that run, which the next alternative then consumes); a test runs them on adversarial inputs
//   within a CPU bound, and another proves the re2js path gives the same pieces.

import { RE2JS } from 're2js';
import type { Fail } from './errors';
import { MAX_PATTERN_LENGTH } from './regex';

/** Real patterns kept on the native RegExp (see the header). */
export const VETTED_PATTERNS: ReadonlySet<string> = new Set([
  // Qwen2, Qwen2.5, Qwen3
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  // Llama 3, 3.1, 3.2 (tiktoken's cl100k_base)
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
]);

/** Largest compiled program accepted: matching costs input length × program size. Real patterns are a few hundred. */
export const MAX_PROGRAM_SIZE = 5000;

// Unicode White_Space, as the Rust tokenizers' Oniguruma `\s` (RE2's `\s` is ASCII only).
const WS = '\\t-\\r\\x{85}\\p{Z}';
// The library's `\w` (Alphabetic, marks, decimal digits, connector punctuation, superscript digits
// and fractions); Alphabetic is written as letters, letter numbers and the circled/squared letters.
const WORD = '\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}\\x{24B6}-\\x{24E9}\\x{1F130}-\\x{1F149}\\x{1F150}-\\x{1F169}\\x{1F170}-\\x{1F189}';
const HEX = '0-9A-Fa-f';
const CLASS_ESCAPES: Readonly<Record<string, string>> = { s: WS, d: '\\p{Nd}', w: WORD, h: HEX };
const WS_TAIL = '|\\s+(?!\\S)|\\s+';

class Refusal extends Error {}
const refuse = (why: string): never => {
  throw new Refusal(why);
};

/** RE2 text for one escape at `p[i]` (the char after the backslash); returns [text, next index]. */
function escape(p: string, i: number, inClass: boolean): [string, number] {
  const c = p[i];
  if (c === undefined) return refuse('ends with a lone backslash');
  const lower = c.toLowerCase();
  if (lower in CLASS_ESCAPES) {
    const members = CLASS_ESCAPES[lower];
    if (c === lower) return [inClass ? members : `[${members}]`, i + 1];
    if (inClass) return refuse(`a negated escape \\${c} inside a bracket class is not supported`);
    return [`[^${members}]`, i + 1];
  }
  if (c === 'p' || c === 'P') {
    const m = /^[pP]\{\^?[A-Za-z_ =-]{1,40}\}/.exec(p.slice(i));
    if (!m) return refuse(`\\${c} needs a property name in braces`);
    return [`\\${m[0]}`, i + m[0].length];
  }
  if (c === 'x') {
    const m = /^x(\{[0-9A-Fa-f]{1,8}\}|[0-9A-Fa-f]{1,2})/.exec(p.slice(i));
    if (!m) return refuse('\\x needs hex digits');
    return [`\\${m[0]}`, i + m[0].length];
  }
  if (c === 'u') {
    const m = /^u(?:\{([0-9A-Fa-f]{1,8})\}|([0-9A-Fa-f]{4}))/.exec(p.slice(i));
    if (!m) return refuse('\\u needs four hex digits');
    return [`\\x{${m[1] ?? m[2]}}`, i + m[0].length];
  }
  if (/[1-9]/.test(c) || c === 'k' || c === 'g') return refuse(`backreferences and subexpression calls (\\${c}) need a backtracking engine`);
  if ('AZz'.includes(c) && !inClass) {
    if (c === 'Z') return refuse('\\Z (end before a final newline) is not supported');
    return [`\\${c}`, i + 1];
  }
  if (c === 'b' || c === 'B') return refuse(`word boundaries (\\${c}) are not supported`);
  const simple: Record<string, string> = { n: '\\n', r: '\\r', t: '\\t', f: '\\f', v: '\\v', a: '\\x07', e: '\\x1B', '0': '\\x00' };
  if (c in simple) return [simple[c], i + 1];
  if (/[A-Za-z0-9]/.test(c)) return refuse(`the escape \\${c} is not supported`);
  return [`\\${c}`, i + 1];
}

/** A bracket class starting at p[i] === '['; returns [RE2 text, index after ']']. */
function bracketClass(p: string, i: number): [string, number] {
  let out = '[';
  i++;
  if (p[i] === '^') {
    out += '^';
    i++;
  }
  if (p[i] === ']') {
    out += '\\]';
    i++;
  }
  for (;;) {
    const c = p[i];
    if (c === undefined) return refuse('has an unclosed [');
    if (c === ']') return [out + ']', i + 1];
    if (c === '[') return refuse('nested bracket classes and POSIX [:name:] classes are not supported');
    if (c === '&' && p[i + 1] === '&') return refuse('class intersection (&&) is not supported');
    if (c === '\\') {
      const [t, next] = escape(p, i + 1, true);
      out += t;
      i = next;
      continue;
    }
    out += c;
    i++;
  }
}

/** Oniguruma group flags (i, m = dot matches newline, x) as RE2's (i, s). */
function groupFlags(flags: string): string {
  let out = '';
  for (const f of flags) {
    if (f === 'i' || f === '-') out += f;
    else if (f === 'm') out += 's';
    else refuse(`the group flag ${f} is not supported`);
  }
  return out;
}

/** RE2 syntax for an Oniguruma pattern without lookaround; every group becomes non-capturing. */
function translateBody(p: string): string {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const c = p[i];
    if (c === '\\') {
      const [t, next] = escape(p, i + 1, false);
      out += t;
      i = next;
    } else if (c === '[') {
      const [t, next] = bracketClass(p, i);
      out += t;
      i = next;
    } else if (c === '(') {
      if (p[i + 1] !== '?') {
        out += '(?:';
        i++;
        continue;
      }
      const rest = p.slice(i + 2);
      if (/^(<?[=!])/.test(rest)) return refuse('lookaround ((?=, (?!, (?<=, (?<!) needs a backtracking engine; only a final \\s+(?!\\S)|\\s+ is supported');
      if (rest.startsWith('>')) return refuse('atomic groups (?>…) are not supported');
      if (rest.startsWith('#')) return refuse('comment groups (?#…) are not supported');
      const named = /^(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)')/.exec(rest);
      if (named) {
        out += '(?:';
        i += 2 + named[0].length;
        continue;
      }
      const fl = /^([imx-]+)([:)])/.exec(rest);
      if (!fl) return refuse(`the group (?${rest.slice(0, 3)}… is not supported`);
      out += `(?${groupFlags(fl[1])}${fl[2]}`;
      i += 2 + fl[0].length;
    } else if ((c === '+' || c === '*' || c === '?' || c === '}') && p[i + 1] === '+') {
      return refuse('possessive quantifiers (*+, ++, ?+) are not supported');
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The pattern's top-level alternatives end with exactly `\s+(?!\S)|\s+` (outside any group or class). */
function hasWhitespaceTail(p: string): boolean {
  if (!p.endsWith(WS_TAIL)) return false;
  const head = p.slice(0, -WS_TAIL.length);
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  return depth === 0 && !inClass && head.length > 0;
}

/** A pattern on re2js behind the RegExp protocol the tokenizers library calls (global, unicode). */
export class LinearPattern {
  readonly flags = 'gu';
  readonly global = true;
  readonly unicode = true;
  lastIndex = 0;

  constructor(
    readonly source: string,
    private readonly re: RE2JS,
    /** Group 1 is the `\s+(?!\S)|\s+` tail (see the header). */
    private readonly wsTail: boolean,
  ) {}

  /** [start, end) of each match, left to right; after an empty match the search moves one code point. */
  *spans(s: string): Generator<[number, number]> {
    const m = this.re.matcher(s);
    let pos = 0;
    while (pos <= s.length && m.find(pos)) {
      const a = m.start();
      let b = m.end();
      if (this.wsTail && m.start(1) >= 0 && b < s.length && b - a >= 2) b--;
      yield [a, b];
      pos = b > a ? b : b + ((s.codePointAt(b) ?? 0) > 0xffff ? 2 : 1);
    }
  }

  [Symbol.match](s: string): string[] | null {
    const out: string[] = [];
    for (const [a, b] of this.spans(s)) out.push(s.slice(a, b));
    return out.length ? out : null;
  }

  *[Symbol.matchAll](s: string): Generator<RegExpMatchArray> {
    for (const [a, b] of this.spans(s)) {
      const m = [s.slice(a, b)] as RegExpMatchArray;
      m.index = a;
      m.input = s;
      yield m;
    }
  }

  /** The pieces between non-empty matches (the Rust tokenizers' "Removed" split keeps no groups). */
  [Symbol.split](s: string): string[] {
    const out: string[] = [];
    let prev = 0;
    for (const [a, b] of this.spans(s)) {
      if (b === a) continue;
      out.push(s.slice(prev, a));
      prev = b;
    }
    out.push(s.slice(prev));
    return out;
  }

  /** Every match replaced by `content` taken literally, as the Rust tokenizers do (no `$1`). */
  [Symbol.replace](s: string, content: unknown): string {
    const text = String(content);
    let out = '';
    let prev = 0;
    for (const [a, b] of this.spans(s)) {
      out += s.slice(prev, a) + text;
      prev = b;
    }
    return out + s.slice(prev);
  }
}

/**
 * Compiles a tokenizer.json `pattern.Regex` for linear-time matching, or refuses it through `fail`
 * naming `field` (the JSON path) and why. Null for a vetted pattern the library may run natively.
 */
export function compileTokenizerRegex(pattern: string, field: string, fail: Fail): LinearPattern | null {
  return VETTED_PATTERNS.has(pattern) ? null : linearPattern(pattern, field, fail);
}

/** `pattern` on re2js (vetted or not), or a refusal through `fail` naming `field`. */
export function linearPattern(pattern: string, field: string, fail: Fail): LinearPattern {
  const shown = JSON.stringify(pattern.slice(0, 200));
  if (pattern.length > MAX_PATTERN_LENGTH) fail(field, `is a regular expression of ${pattern.length} characters, more than the ${MAX_PATTERN_LENGTH} allowed`);
  const wsTail = hasWhitespaceTail(pattern);
  let re: RE2JS;
  try {
    const body = translateBody(wsTail ? pattern.slice(0, -WS_TAIL.length) : pattern);
    re = RE2JS.compile(wsTail ? `${body}|([${WS}]+)` : body, RE2JS.MULTILINE);
  } catch (e) {
    const why = e instanceof Refusal ? e.message : `it is not a valid regular expression (${String((e as Error).message).slice(0, 200)})`;
    return fail(field, `regular expression ${shown} cannot be used: ${why} (tokenizer regexes run in linear time)`);
  }
  const size = re.matcher('').programSize();
  if (size > MAX_PROGRAM_SIZE) fail(field, `regular expression ${shown} compiles to ${size} instructions, more than the ${MAX_PROGRAM_SIZE} allowed`);
  return new LinearPattern(pattern, re, wsTail);
}
