// Named, checked uniforms. A dispatch passes its uniforms by field name ({ M: 64, alpha: 0.5 });
// the packer reads the shader's own WGSL (the composed text the GPU compiles) for the uniform
// struct its entry point uses, and packs each field at its offset with its type, after checking
// that the names are exactly the struct's and each value fits its type. A renamed, added, removed
// or reordered field is then an error at record time instead of a silently shifted block.
// Why a parser of our own: only scalar u32/i32/f32 fields occur (the layout is then 4 bytes per
// field in order), and no kept library parses WGSL structs.
import { GpuError } from './errors';
import type { Shader } from './gpu';

export type UniformType = 'u32' | 'i32' | 'f32';

export interface UniformField {
  name: string;
  type: UniformType;
  /** Byte offset in the block. */
  offset: number;
}

export interface UniformStruct {
  name: string;
  fields: UniformField[];
  /** Bytes of the block: 4 per field, rounded up to 16. */
  size: number;
}

/** Values by field name. Fields named _pad… may be left out (they are packed as 0). */
export type UniformValues = Readonly<Record<string, number>>;

function stripComments(code: string): string {
  return code.replace(/\/\/[^\n]*/g, '');
}

/** Every `struct` of a WGSL text with only scalar fields, by name. */
function scalarStructs(code: string): Map<string, UniformStruct | string> {
  const out = new Map<string, UniformStruct | string>();
  for (const m of code.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields: UniformField[] = [];
    let bad: string | null = null;
    for (const part of m[2].split(',').map((s) => s.trim()).filter(Boolean)) {
      const f = /^(?:@\w+(?:\([^)]*\))?\s+)*(\w+)\s*:\s*([\w<>, ]+)$/.exec(part);
      const type = f?.[2].trim();
      if (!f || (type !== 'u32' && type !== 'i32' && type !== 'f32')) {
        bad = `field "${part}" is not a scalar u32, i32 or f32`;
        break;
      }
      fields.push({ name: f[1], type, offset: fields.length * 4 });
    }
    out.set(m[1], bad ?? { name: m[1], fields, size: Math.max(16, Math.ceil((fields.length * 4) / 16) * 16) });
  }
  return out;
}

/** Top-level functions: name → body text. */
function functions(code: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\bfn\s+(\w+)\s*\(/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const open = code.indexOf('{', m.index);
    let depth = 0;
    let i = open;
    for (; i < code.length; i++) {
      if (code[i] === '{') depth++;
      else if (code[i] === '}' && --depth === 0) break;
    }
    out.set(m[1], code.slice(open, i + 1));
    re.lastIndex = i;
  }
  return out;
}

/** The uniform variables an entry point reaches (its body and every function it calls). */
function uniformsReached(entry: string, fns: Map<string, string>, uniformVars: Map<string, string>): Set<string> {
  const seen = new Set<string>();
  const reached = new Set<string>();
  const visit = (fn: string): void => {
    if (seen.has(fn)) return;
    seen.add(fn);
    for (const id of fns.get(fn)?.match(/\b\w+\b/g) ?? []) {
      if (uniformVars.has(id)) reached.add(id);
      if (fns.has(id)) visit(id);
    }
  };
  visit(entry);
  return reached;
}

const cache = new WeakMap<Shader, Map<string, UniformStruct>>();

/**
 * The uniform struct an entry point of a shader binds: the type of the one `var<uniform>` the
 * entry reaches. Throws GpuError naming the shader and entry when there is none or several.
 */
export function uniformStruct(shader: Shader, entry: string): UniformStruct {
  let byEntry = cache.get(shader);
  if (!byEntry) cache.set(shader, (byEntry = new Map()));
  const known = byEntry.get(entry);
  if (known) return known;
  const where = `${shader.name}.${entry}`;
  const code = stripComments(shader.code);
  const vars = new Map<string, string>();
  for (const m of code.matchAll(/var\s*<\s*uniform\s*>\s*(\w+)\s*:\s*(\w+)/g)) vars.set(m[1], m[2]);
  const fns = functions(code);
  if (!fns.has(entry)) throw new GpuError(`${where}: the shader has no entry point "${entry}"`);
  const reached = [...uniformsReached(entry, fns, vars)];
  if (reached.length !== 1) throw new GpuError(`${where}: the entry point reads ${reached.length} uniform blocks (${reached.join(', ') || 'none'}); uniforms need exactly one`);
  const typeName = vars.get(reached[0])!;
  const struct = scalarStructs(code).get(typeName);
  if (struct === undefined) throw new GpuError(`${where}: struct ${typeName} not found in the shader`);
  if (typeof struct === 'string') throw new GpuError(`${where}: struct ${typeName}: ${struct}`);
  byEntry.set(entry, struct);
  return struct;
}

const LIMITS: Record<UniformType, [number, number] | null> = { u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff], f32: null };

/**
 * Packs named values into the uniform block of `shader`'s `entry`. Throws GpuError naming the
 * shader, entry and field for a missing or unknown field, or a value outside its type.
 */
export function packUniforms(shader: Shader, entry: string, values: UniformValues): ArrayBuffer {
  const struct = uniformStruct(shader, entry);
  const where = `${shader.name}.${entry} uniforms (struct ${struct.name})`;
  const names = new Set(struct.fields.map((f) => f.name));
  for (const name of Object.keys(values)) if (!names.has(name)) throw new GpuError(`${where}: no field "${name}" (fields: ${[...names].join(', ')})`);
  const buf = new ArrayBuffer(struct.size);
  const view = new DataView(buf);
  for (const f of struct.fields) {
    const v = values[f.name];
    if (v === undefined) {
      if (f.name.startsWith('_pad')) continue;
      throw new GpuError(`${where}: field "${f.name}" (${f.type}) is missing`);
    }
    const range = LIMITS[f.type];
    if (typeof v !== 'number' || Number.isNaN(v)) throw new GpuError(`${where}: field "${f.name}" is not a number (${String(v)})`);
    if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) throw new GpuError(`${where}: field "${f.name}" (${f.type}) cannot hold ${v}`);
    if (f.type === 'f32') view.setFloat32(f.offset, v, true);
    else if (f.type === 'i32') view.setInt32(f.offset, v, true);
    else view.setUint32(f.offset, v, true);
  }
  return buf;
}
