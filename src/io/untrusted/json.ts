// JSON from files that strangers publish (config.json, adapter_config.json, tokenizer files,
// safetensors headers, dataset lines): size and nesting depth are checked on the text before
// JSON.parse, and lookups of keys taken from such files are own-property only.
//
// Why a depth scan: V8's JSON.parse does not recurse, but everything after it does (JSON.stringify
// in messages, tree walkers), so a value nested 10^5 deep would turn a typed refusal into a stack
// overflow far from the file. The scan is one pass over the text, skipping strings.

import { failWith, type Fail } from './errors';

/** Nesting limit: real config, tokenizer and header files stay under 20 levels. */
export const MAX_JSON_DEPTH = 128;
/** Size limit of a config-like file (config.json, adapter_config.json, tokenizer_config.json). */
export const MAX_CONFIG_BYTES = 16 << 20;
/**
 * Size limit of tokenizer.json: the largest real ones are ~35 MB (Gemma 3: 33 MB, 510 MB of peak
 * memory to load); within this and TOKENIZER_CAPS (src/data/tokenizer-check.ts) loading stays under 1 GB.
 */
export const MAX_TOKENIZER_BYTES = 48 << 20;

/** The size cap of a model folder's text file by name, checked before it is read (from disk, an upload or the Hub). */
export function maxTextFileBytes(file: string): number {
  return file === 'tokenizer.json' ? MAX_TOKENIZER_BYTES : MAX_CONFIG_BYTES;
}

export interface JsonLimits {
  /** Refused when the file has more bytes than this (default MAX_CONFIG_BYTES); text is checked by length (≤ its UTF-8 bytes). */
  maxBytes?: number;
  /** Refused when arrays/objects nest deeper than this (default MAX_JSON_DEPTH). */
  maxDepth?: number;
}

/** Depth of the deepest array/object in `text`; stops counting once past `limit` and returns it. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return max;
}

/**
 * JSON.parse of untrusted text with the size and depth checked first. Throws through `fail`
 * (default: UntrustedFileError naming `file`): "too large", "nested too deep", "not valid JSON".
 */
export function parseUntrustedJson(text: string, file: string, limits: JsonLimits = {}, fail: Fail = failWith(file)): unknown {
  const maxBytes = limits.maxBytes ?? MAX_CONFIG_BYTES;
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  if (text.length > maxBytes) fail(null, `has ${text.length} characters, more than the ${maxBytes} bytes this file may have`);
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) fail(null, `nests values more than ${maxDepth} deep`);
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(null, `is not valid JSON (${String((e as Error).message).slice(0, 200)})`);
  }
}

/** Refuses a file of `size` bytes (its size on disk, known before reading it) above `maxBytes`. */
export function checkFileSize(size: number, maxBytes: number, fail: Fail): void {
  if (size > maxBytes) fail(null, `has ${size} bytes, more than the ${maxBytes} this file may have`);
}

/** A folder of files (ModelFolder's shape, without importing the engine). */
export interface TextFolder {
  name: string;
  text(file: string): Promise<string>;
  source(file: string): Promise<{ size: number }>;
}

/** Reads `file` from `folder` as untrusted JSON, refusing by its size on disk before reading it. */
export async function readUntrustedJson(folder: TextFolder, file: string, limits: JsonLimits = {}, fail?: Fail): Promise<unknown> {
  const path = `${folder.name}/${file}`;
  const f = fail ?? failWith(path);
  const maxBytes = limits.maxBytes ?? MAX_CONFIG_BYTES;
  checkFileSize((await folder.source(file)).size, maxBytes, f);
  return parseUntrustedJson(await folder.text(file), path, limits, f);
}

type Obj = Record<string, unknown>;

/** `key` is an own property of `obj` (never one inherited from Object.prototype, e.g. "constructor"). */
export function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** obj[key] when it is an own property, else undefined. */
export function own(obj: Obj, key: string): unknown {
  return hasOwn(obj, key) ? obj[key] : undefined;
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
