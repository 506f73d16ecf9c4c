// tokenizer.json's regexes: catastrophic patterns end within a CPU bound, backtracking-only
// syntax is refused by name, and the re2js path gives the library's native pieces (and the Python
// ids) on the real patterns. CPU time, not wall time: the machine is shared.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { DatasetError } from '../../data/errors';
import { ModelTokenizer } from '../../data/tokenizer';
import { loadReference, QWEN3_TOKENIZER_DIR } from '../../data/testdata/fixtures';
import { mulberry32 } from '../../util/prng';
import { failWith } from './errors';
import { linearPattern, VETTED_PATTERNS } from './tokenizer-regex';

const QWEN_DIR = QWEN3_TOKENIZER_DIR;
const readJson = (dir: string, f: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
const TINY = join(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** Generous: the native regex took 96 s on 30 characters; re2js takes milliseconds. */
const CPU_BOUND_MS = 10_000;

/** The tiny fixture tokenizer with `pieces` in place of its normalizer / pre-tokenizer / decoder. */
function tinyWith(pieces: Record<string, unknown>): ModelTokenizer {
  return ModelTokenizer.load({ tokenizerJson: { ...readJson(TINY, 'tokenizer.json'), ...pieces }, tokenizerConfig: readJson(TINY, 'tokenizer_config.json'), dir: 'hostile' });
}
const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const replace = (regex: string) => ({ type: 'Replace', pattern: { Regex: regex }, content: 'x' });

const CATASTROPHIC = ['(a+)+$', '(a|a)*b', '(a*)*b', '(a|aa)+$', '([a-z]+)*[0-9]', '(.*a){12}', '(\\w+\\s?)+$'];

describe('catastrophic tokenizer regexes', () => {
  it.each(CATASTROPHIC)('%s in a Split pre-tokenizer, a Replace normalizer and a Replace decoder ends within the CPU bound', (re) => {
    const line = 'a'.repeat(20_000) + '!';
    const t0 = cpuMs();
    const pre = tinyWith({ pre_tokenizer: { type: 'Sequence', pretokenizers: [split(re), { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] } });
    expect(pre.encode(line).length).toBeGreaterThan(0);
    const norm = tinyWith({ normalizer: { type: 'Sequence', normalizers: [replace(re)] } });
    expect(norm.encode(line).length).toBeGreaterThan(0);
    const dec = tinyWith({ decoder: { type: 'Sequence', decoders: [replace(re), { type: 'ByteLevel' }] } });
    dec.decode(dec.encode(line));
    expect(cpuMs() - t0).toBeLessThan(CPU_BOUND_MS);
  });

  it('a normalized added token meets the linear pattern while the tokenizer is built', () => {
    const tj = readJson(TINY, 'tokenizer.json');
    const added = [...(tj.added_tokens as object[]), { id: 3, content: 'a'.repeat(40), normalized: true, special: false }];
    const t0 = cpuMs();
    const tok = ModelTokenizer.load({ tokenizerJson: { ...tj, added_tokens: added, normalizer: replace('(a+)+$') }, tokenizerConfig: {} });
    expect(cpuMs() - t0).toBeLessThan(CPU_BOUND_MS);
    // Normalized, the added token's text reads "x": typing "x" gives its id, as the library would.
    expect(tok.encode('x')).toEqual([3]);
  });

  it('the vetted real patterns stay linear on adversarial inputs (native RegExp)', () => {
    const tok = ModelTokenizer.load({ tokenizerJson: readJson(QWEN_DIR, 'tokenizer.json'), tokenizerConfig: readJson(QWEN_DIR, 'tokenizer_config.json') });
    const n = 50_000;
    const inputs = [' '.repeat(n) + 'a', ' \n'.repeat(n / 2) + 'a', '\t '.repeat(n / 2) + '!', "'".repeat(n), '1'.repeat(n), ' !'.repeat(n / 2), '\r'.repeat(n) + ' '];
    const t0 = cpuMs();
    for (const s of inputs) expect(tok.encode(s).length).toBeGreaterThan(0);
    expect(cpuMs() - t0).toBeLessThan(CPU_BOUND_MS);
  });
});

describe('backtracking-only syntax is refused by name, with the file and JSON path', () => {
  const cases: [string, RegExp][] = [
    ['(a)\\1', /backreferences/],
    ['(?<x>a)\\k<x>', /backreferences/],
    ['a(?=b)', /lookaround/],
    ['(?<!a)b', /lookaround/],
    ['\\s+(?!\\S)', /lookaround/],
    ['(?>a+)b', /atomic/],
    ['a++b', /possessive/],
    ['[[:alpha:]]', /POSIX/],
    ['\\bword\\b', /word boundaries/],
    ['(', /not a valid regular expression/],
  ];
  it.each(cases)('%s', (re, why) => {
    const load = () => tinyWith({ pre_tokenizer: { type: 'Sequence', pretokenizers: [split('x'), split(re)] } });
    expect(load).toThrow(DatasetError);
    expect(load).toThrow('hostile/tokenizer.json: pre_tokenizer.pretokenizers[1].pattern.Regex regular expression');
    expect(load).toThrow(why);
  });

  it('a decoder and a normalizer are named by their paths too', () => {
    expect(() => tinyWith({ decoder: { type: 'Sequence', decoders: [replace('(a)\\1')] } })).toThrow('decoder.decoders[0].pattern.Regex');
    expect(() => tinyWith({ normalizer: replace('a(?=b)') })).toThrow('normalizer.pattern.Regex');
  });
});

/** Strings built from the characters the GPT-2 family's alternatives turn on. */
function trickyStrings(count: number, seed: number): string[] {
  const parts = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u0085', 'a', 'The', "'s", "'LL", 'é', '中文', '123', '4567', '!', '?!', '...', '🎉', '\u2028', 'x '];
  const rand = mulberry32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = 1 + Math.floor(rand() * 24);
    for (let k = 0; k < n; k++) s += parts[Math.floor(rand() * parts.length)];
    out.push(s);
  }
  return out;
}

describe('the re2js path gives the same pieces as the native one', () => {
  const fail = failWith('t.json');
  it.each([...VETTED_PATTERNS])('%s', (pattern) => {
    // The library's own compiled pattern is the oracle.
    const tj = readJson(QWEN_DIR, 'tokenizer.json');
    const native = new Tokenizer({ ...tj, pre_tokenizer: split(pattern) }, {}) as unknown as { pre_tokenizer: { pattern: RegExp } };
    const linear = linearPattern(pattern, 'p', fail);
    const texts = [...loadReference('qwen3-tokenizer').encode.map((e) => e.text), ...trickyStrings(2000, 7)];
    for (const s of texts) {
      expect([...s.matchAll(linear as unknown as RegExp)].map((m) => [m.index, m[0]]), JSON.stringify(s)).toEqual([...s.matchAll(native.pre_tokenizer.pattern)].map((m) => [m.index, m[0]]));
    }
  });

  it("a spelling of Qwen3's pattern that is not vetted runs on re2js and gives the Python ids", () => {
    const tj = readJson(QWEN_DIR, 'tokenizer.json');
    const pre = tj.pre_tokenizer as { pretokenizers: { pattern: { Regex: string } }[] };
    const respelled = pre.pretokenizers[0].pattern.Regex.replace('|\\p{N}|', '|[\\p{N}]|');
    expect(VETTED_PATTERNS.has(respelled)).toBe(false);
    const pretokenizers = [{ ...pre.pretokenizers[0], pattern: { Regex: respelled } }, ...pre.pretokenizers.slice(1)];
    const tok = ModelTokenizer.load({ tokenizerJson: { ...tj, pre_tokenizer: { ...pre, pretokenizers } }, tokenizerConfig: readJson(QWEN_DIR, 'tokenizer_config.json') });
    const patterns = (tok.tokenizer as unknown as { pre_tokenizer: { tokenizers: { pattern: unknown }[] } }).pre_tokenizer.tokenizers;
    expect(patterns[0].pattern).not.toBeInstanceOf(RegExp);
    for (const e of loadReference('qwen3-tokenizer').encode) expect(tok.encode(e.text), JSON.stringify(e.text)).toEqual(e.ids);
  });
});
