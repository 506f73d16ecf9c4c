// Input mutators of the fuzz suite (fuzz.test.ts): seeded, deterministic, Node-free.
// ---------------------------------------------------------------------------------------------
// Mutators

export type Rand = () => number;
export const pick = <T,>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Placeholder replaced, after JSON.stringify, by JSON text nested DEEP levels (stringify would overflow). */
const DEEP_MARK = '\u0001deep\u0001';
const DEEP = 20_000;
const deepText = (r: Rand): string => (r() < 0.5 ? '['.repeat(DEEP) + ']'.repeat(DEEP) : '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP));

export const PROTO_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__'];
export const HOSTILE_REGEX = ['(.|.)*X', '(a*)*b', '(a|aa)+$', '.*(?=q_proj)', '(q)\\1', '[', '(', '.{1000}{1000}', '(?P<x>q_proj)', 'q_proj|'.repeat(2000) + 'v', '\\', ''];

export function hostileValue(r: Rand): unknown {
  // Thunks: only the value drawn is built.
  const make: Array<() => unknown> = [
    () => pick(r, [1e9, 1e308, -1, 0, 0.5, 2 ** 53 + 2, -1e9, 4294967296, 65536, 1e6]),
    () => pick(r, ['', 'NaN', 'constructor', '__proto__', 'toString']),
    () => pick(r, HOSTILE_REGEX),
    // Long strings stay under 500 characters: @huggingface/tokenizers' BPE is quadratic in the
    // length of one word, so a 5,000-character word takes seconds to tokenize (not yet bounded).
    () => 'x'.repeat(1 + Math.floor(r() * 500)),
    () => pick(r, [null, true, false]),
    () => pick<unknown>(r, [[], {}, [1e9], { constructor: 1 }, ['constructor']]),
    () => DEEP_MARK,
    () => Object.fromEntries(PROTO_KEYS.map((k) => [k, 1e9])),
    () => Array.from({ length: 2_000 }, (_, i) => i),
  ];
  return pick(r, make)();
}

/** A random path into `v`'s containers (the root when empty). */
export function mutateJson(r: Rand, root: unknown): unknown {
  const clone = JSON.parse(JSON.stringify(root)) as unknown;
  const steps = 1 + Math.floor(r() * 3);
  let result = clone;
  for (let s = 0; s < steps; s++) {
    // walk
    let parent: Record<string, unknown> | unknown[] | null = null;
    let key: string | number | null = null;
    let cur: unknown = result;
    while (typeof cur === 'object' && cur !== null && r() < 0.7) {
      const keys = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
      if (keys.length === 0) break;
      key = pick(r, keys as Array<string | number>);
      parent = cur as Record<string, unknown>;
      cur = (cur as Record<string, unknown>)[key as string];
    }
    const op = r();
    if (parent === null) {
      if (op < 0.3) result = hostileValue(r);
      else if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
        (result as Record<string, unknown>)[pick(r, PROTO_KEYS.concat(['x', 'architectures', 'r', 'target_modules']))] = hostileValue(r);
      }
    } else if (op < 0.6) {
      (parent as Record<string, unknown>)[key as string] = hostileValue(r);
    } else if (op < 0.75 && !Array.isArray(parent)) {
      delete (parent as Record<string, unknown>)[key as string];
    } else if (op < 0.9 && !Array.isArray(parent)) {
      const v = (parent as Record<string, unknown>)[key as string];
      delete (parent as Record<string, unknown>)[key as string];
      Object.defineProperty(parent, pick(r, PROTO_KEYS), { value: v, enumerable: true, writable: true, configurable: true });
    } else if (Array.isArray(parent)) {
      parent.push(hostileValue(r));
    }
  }
  return result;
}

export function jsonText(r: Rand, base: unknown): string {
  let text = JSON.stringify(mutateJson(r, base));
  if (text === undefined) return 'undefined';
  if (text.includes(JSON.stringify(DEEP_MARK))) text = text.split(JSON.stringify(DEEP_MARK)).join(deepText(r));
  return r() < 0.15 ? mutateText(r, text) : text;
}

export function mutateBytes(r: Rand, bytes: Uint8Array, region = bytes.length): Uint8Array {
  const out = bytes.slice();
  const op = r();
  if (op < 0.45) {
    const n = 1 + Math.floor(r() * 8);
    for (let i = 0; i < n; i++) out[Math.floor(r() * Math.min(region, out.length))] ^= 1 << Math.floor(r() * 8);
    return out;
  }
  if (op < 0.7) return out.subarray(0, Math.floor(r() * out.length));
  if (op < 0.85) {
    const at = Math.floor(r() * Math.min(region, out.length));
    for (let i = 0; i < 4 && at + i < out.length; i++) out[at + i] = pick(r, [0, 0xff, 0x7f, 0x80]);
    return out;
  }
  const extra = new Uint8Array(Math.floor(r() * 64)).map(() => Math.floor(r() * 256));
  const joined = new Uint8Array(out.length + extra.length);
  joined.set(out);
  joined.set(extra, out.length);
  return joined;
}

export function mutateText(r: Rand, text: string): string {
  const at = Math.floor(r() * text.length);
  const op = r();
  if (op < 0.4) return text.slice(0, at);
  if (op < 0.7) return text.slice(0, at) + pick(r, ['{', '[', '"', '\\', ']', '}', ',', '\u0000', '\ud800', '{"__proto__":', '1e999']) + text.slice(at);
  return text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 10));
}

/** A safetensors file with its header JSON mutated (the data buffer kept). */
export function mutateSafetensorsHeader(r: Rand, file: Uint8Array): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as unknown;
  const text = new TextEncoder().encode(jsonText(r, header));
  const out = new Uint8Array(8 + text.length + (file.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(r() < 0.1 ? Math.floor(r() * 2 ** 40) : text.length), true);
  out.set(text, 8);
  out.set(file.subarray(8 + n), 8 + text.length);
  return out;
}


/** A Parquet file with bytes of its footer (the thrift metadata: schema, row groups, offsets) flipped or set to extremes. */
export function mutateParquetFooter(r: Rand, file: Uint8Array): Uint8Array {
  const out = file.slice();
  const metaLength = new DataView(file.buffer, file.byteOffset).getUint32(file.length - 8, true);
  const start = Math.max(0, file.length - 8 - metaLength);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = start + Math.floor(r() * metaLength);
    out[at] = r() < 0.5 ? out[at] ^ (1 << Math.floor(r() * 8)) : pick(r, [0, 0xff, 0x7f, 0x80, 0x15, 0x16]);
  }
  return out;
}
