// The untrusted-input layer, one class of hostile input per test: prototype keys, deep nesting,
// huge sizes, zip bombs and lying archives, catastrophic regexes.
import { describe, expect, it } from 'vitest';
import { Zip, ZipPassThrough, zipSync } from 'fflate';
import { UntrustedFileError } from './errors';
import { hasOwn, jsonDepth, MAX_JSON_DEPTH, own, parseUntrustedJson } from './json';
import { compileSafeRegex } from './regex';
import { readZipEntries, storedZipFiles, zipEntryNames } from './zip';
import { zipStore } from '../../util/zip';
import { boundedInt, runLimitError } from './limits';
import { failWith } from './errors';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('untrusted JSON', () => {
  it('refuses nesting beyond the limit before parsing, naming the file', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseUntrustedJson(deep, 'x/config.json')).toThrow(UntrustedFileError);
    expect(() => parseUntrustedJson(deep, 'x/config.json')).toThrow(`x/config.json nests values more than ${MAX_JSON_DEPTH} deep`);
    const ok = '{"a":'.repeat(MAX_JSON_DEPTH) + '1' + '}'.repeat(MAX_JSON_DEPTH);
    expect(jsonDepth(ok)).toBe(MAX_JSON_DEPTH);
    expect(() => parseUntrustedJson(ok, 'f.json')).not.toThrow();
  });

  it('does not count brackets inside strings', () => {
    expect(jsonDepth('{"a": "[[[[{{{{\\"[[[", "b": [1]}')).toBe(2);
  });

  it('refuses text over the size limit and invalid JSON by file', () => {
    expect(() => parseUntrustedJson('[1, 2, 3]', 'a.json', { maxBytes: 4 })).toThrow('a.json has 9 characters, more than the 4 bytes this file may have');
    expect(() => parseUntrustedJson('{"a": ', 'a.json')).toThrow(/^a\.json is not valid JSON/);
  });

  it('looks up own properties only', () => {
    const table: Record<string, number> = { LlamaForCausalLM: 1 };
    expect('constructor' in table).toBe(true); // what `in` would have accepted
    expect(hasOwn(table, 'constructor')).toBe(false);
    expect(own(table, 'toString')).toBeUndefined();
    const parsed = parseUntrustedJson('{"__proto__": {"polluted": 1}}', 'p.json') as Record<string, unknown>;
    expect(hasOwn(parsed, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('bounded numbers', () => {
  it('refuses sizes past their cap by field', () => {
    const fail = failWith('config.json');
    expect(() => boundedInt(1e9, 'num_hidden_layers', 1, 1024, fail)).toThrow('config.json: num_hidden_layers 1000000000 is more than the 1024 allowed');
    expect(() => boundedInt('8', 'r', 1, 8, fail)).toThrow('config.json: r must be an integer ≥ 1, not "8"');
    expect(boundedInt(8, 'r', 1, 8, fail)).toBe(8);
  });

  it('caps run settings typed by a user', () => {
    expect(runLimitError('rank', 1e9)).toBe('1000000000 is more than the 4096 allowed');
    expect(runLimitError('batch-size', 1e6)).toBe('1000000 is more than the 1024 allowed');
    expect(runLimitError('max-length', 1e9)).toBe('1000000000 is more than the 1048576 allowed');
    expect(runLimitError('rank', 64)).toBeNull();
    expect(runLimitError('constructor', 1e9)).toBeNull();
  });
});

describe('linear-time regular expressions', () => {
  const fail = failWith('adapter_config.json');
  it('runs a catastrophically backtracking pattern on a long name', () => {
    // With `new RegExp` this does not return; on RE2 it is one pass.
    const re = compileSafeRegex('(.|.)*X', 'target_modules', fail);
    expect(re.fullMatch('a'.repeat(50_000))).toBe(false);
    expect(re.fullMatch(`${'a'.repeat(1000)}X`)).toBe(true);
  });

  it('keeps full-match semantics', () => {
    const re = compileSafeRegex('.*\\.(q_proj|v_proj)', 'target_modules', fail);
    expect(re.fullMatch('model.layers.0.self_attn.q_proj')).toBe(true);
    expect(re.fullMatch('model.layers.0.self_attn.q_proj.lora_A')).toBe(false);
    expect(compileSafeRegex('q_proj|v_proj', 'x', fail).fullMatch('v_proj')).toBe(true);
    expect(compileSafeRegex('(?P<x>q)_proj', 'x', fail).fullMatch('q_proj')).toBe(true); // Python's named group
  });

  it('refuses backreferences and lookaround by name', () => {
    expect(() => compileSafeRegex('(q)\\1', 'exclude_modules', fail)).toThrow(/adapter_config\.json: exclude_modules regular expression .* backreferences and lookaround are not supported/);
    expect(() => compileSafeRegex('.*(?=q)', 'exclude_modules', fail)).toThrow(/backreferences and lookaround/);
    expect(() => compileSafeRegex('a'.repeat(5000), 'rank_pattern', fail)).toThrow(/more than the 4096 allowed/);
  });
});

describe('.zip archives', () => {
  const limits = { maxEntryBytes: 1 << 20, maxTotalBytes: 2 << 20 };

  it('inflates only the wanted entries, stored or deflated', () => {
    for (const level of [0, 9] as const) {
      const z = zipSync({ 'a/x.json': bytes('{"r": 4}'), 'junk/big.bin': new Uint8Array(4 << 20) }, { level });
      expect(zipEntryNames(z, 'a.zip')).toEqual(['a/x.json', 'junk/big.bin']);
      const out = readZipEntries(z, 'a.zip', (n) => n === 'a/x.json', limits);
      expect(Object.keys(out)).toEqual(['a/x.json']);
      expect(new TextDecoder().decode(out['a/x.json'])).toBe('{"r": 4}');
    }
  });

  it('refuses a bomb from its central directory, before inflating', () => {
    const z = zipSync({ 'adapter_model.safetensors': new Uint8Array(16 << 20) }, { level: 1 });
    expect(z.length).toBeLessThan(1 << 20);
    expect(() => readZipEntries(z, 'bomb.zip', () => true, limits)).toThrow(
      `bomb.zip: adapter_model.safetensors inflates to ${16 << 20} bytes, more than the ${1 << 20} this entry may have`,
    );
  });

  it('refuses an entry that inflates past the size it declares, while inflating', () => {
    const z = zipSync({ 'w.bin': new Uint8Array(4 << 20) }, { level: 1 });
    // Lie in the central directory: 1000 bytes instead of 8 MiB (within every cap).
    const dv = new DataView(z.buffer, z.byteOffset);
    const cd = dv.getUint32(z.length - 22 + 16, true);
    dv.setUint32(cd + 24, 1000, true);
    expect(() => readZipEntries(z, 'liar.zip', () => true, limits)).toThrow('liar.zip: w.bin inflates to more than the 1000 bytes it declares');
  });

  it('refuses a total over the cap and damaged archives by name', () => {
    const z = zipSync({ a: new Uint8Array(1 << 20), b: new Uint8Array(1 << 20), c: new Uint8Array(1 << 20) }, { level: 6 });
    expect(() => readZipEntries(z, 't.zip', () => true, limits)).toThrow(`t.zip inflates to ${3 << 20} bytes in the entries read, more than the ${2 << 20} allowed`);
    expect(() => readZipEntries(bytes('not a zip at all, not even close'), 'n.zip', () => true, limits)).toThrow('n.zip is not a .zip archive');
    const flipped = zipSync({ a: bytes('hello hello hello') }, { level: 0 });
    flipped[30 + 1 + 2] ^= 0xff; // a byte of the stored data
    expect(() => readZipEntries(flipped, 'crc.zip', () => true, limits)).toThrow('crc.zip: a does not match its CRC-32 (damaged)');
  });

  /** An archive as the page's ONNX export streams it: fflate's Zip, stored entries with data descriptors. */
  const streamed = (files: Record<string, Uint8Array>): Uint8Array<ArrayBuffer> => {
    const parts: Uint8Array[] = [];
    const zip = new Zip((err, data) => {
      if (err) throw err;
      parts.push(data);
    });
    for (const [name, data] of Object.entries(files)) {
      const entry = new ZipPassThrough(name);
      entry.extra = { 0xcafe: bytes('an extra field: the data starts after it') };
      zip.add(entry);
      entry.push(data.subarray(0, 3));
      entry.push(data.subarray(3), true);
    }
    zip.end();
    return Uint8Array.from(Buffer.concat(parts));
  };
  const text = async (b: Blob): Promise<string> => new TextDecoder().decode(await b.arrayBuffer());

  it('splits a stored archive held in a Blob into its files, as slices', async () => {
    const files = { 'config.json': bytes('{"a": 1}'), 'onnx/model.onnx': bytes('graph bytes, not compressed'), 'tokenizer.json': bytes('{}') };
    for (const z of [streamed(files), zipStore(Object.entries(files).map(([name, data]) => ({ name, data })))]) {
      const out = await storedZipFiles(new Blob([z]), 'w.zip');
      expect(out.map((f) => f.name)).toEqual(['config.json', 'onnx/model.onnx', 'tokenizer.json']);
      expect(await Promise.all(out.map((f) => text(f.blob)))).toEqual(['{"a": 1}', 'graph bytes, not compressed', '{}']);
    }
  });

  it('splits an archive whose central directory starts before its last 64 KiB', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 1500; i++) files[`${'d'.repeat(40)}/file-${i}.txt`] = bytes(`file ${i}`);
    const out = await storedZipFiles(new Blob([streamed(files)]), 'many.zip');
    expect(out).toHaveLength(1500);
    expect(await text(out[1234].blob)).toBe('file 1234');
  });

  it('refuses to split a compressed archive, naming the entry', async () => {
    const z = zipSync({ 'model.onnx': new Uint8Array(4096) }, { level: 6 });
    await expect(storedZipFiles(new Blob([z.slice()]), 'c.zip')).rejects.toThrow('c.zip: model.onnx is compressed (method 8): only a stored archive is split into its files');
    await expect(storedZipFiles(new Blob(['no zip here, none at all']), 'n.zip')).rejects.toThrow('n.zip is not a .zip archive');
  });
});
