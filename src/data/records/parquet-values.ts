// Parquet columns and cells as the JSON a .jsonl line of the same data holds: a column's type in
// words (ColumnInfo), binary columns told apart (they are left out of records), and each decoded
// cell (hyparquet's values) turned into plain JSON values.
import type { SchemaTree } from 'hyparquet';
import { MAX_JSON_DEPTH } from '../../io/untrusted/json';

/** A column of a record source: its name and type in words (`string`, `list<struct<role: string, content: string>>`). */
export interface ColumnInfo {
  name: string;
  type: string;
  /** Binary data (bytes, no text annotation): left out of the records. */
  binary?: boolean;
}

/** Annotations that make hyparquet decode bytes as something other than raw bytes. */
const TEXT_CONVERTED = new Set(['UTF8', 'JSON', 'ENUM', 'DECIMAL', 'BSON', 'INTERVAL']);
const TEXT_LOGICAL = new Set(['STRING', 'JSON', 'ENUM', 'UUID', 'DECIMAL', 'FLOAT16', 'BSON']);

function isLeafBinary(node: SchemaTree): boolean {
  const e = node.element;
  if (e.type !== 'BYTE_ARRAY' && e.type !== 'FIXED_LEN_BYTE_ARRAY') return false;
  if (e.converted_type && TEXT_CONVERTED.has(e.converted_type)) return false;
  if (e.logical_type && TEXT_LOGICAL.has(e.logical_type.type)) return false;
  return true;
}

/** The type of a schema node in words. */
export function describeType(node: SchemaTree, depth = 0): string {
  const e = node.element;
  if (depth > 32) return '…';
  if (!node.children.length) {
    if (isLeafBinary(node)) return 'binary';
    const logical = e.logical_type?.type;
    if (logical === 'STRING' || e.converted_type === 'UTF8') return 'string';
    if (logical) return logical.toLowerCase();
    if (e.converted_type) return e.converted_type.toLowerCase();
    return (e.type ?? 'unknown').toLowerCase();
  }
  const ct = e.converted_type ?? e.logical_type?.type;
  if ((ct === 'LIST') && node.children.length === 1) {
    const rep = node.children[0];
    const item = rep.children.length === 1 && rep.element.repetition_type === 'REPEATED' ? rep.children[0] : rep;
    return `list<${describeType(item, depth + 1)}>`;
  }
  if ((ct === 'MAP' || ct === 'MAP_KEY_VALUE') && node.children.length === 1 && node.children[0].children.length === 2) {
    const [k, v] = node.children[0].children;
    return `map<${describeType(k, depth + 1)}, ${describeType(v, depth + 1)}>`;
  }
  const fields = node.children.map((c) => `${c.element.name}: ${describeType(c, depth + 1)}`).join(', ');
  return e.repetition_type === 'REPEATED' ? `list<struct<${fields}>>` : `struct<${fields}>`;
}

/** The file's top-level columns (the schema root's children). */
export function describeColumns(root: SchemaTree): ColumnInfo[] {
  return root.children.map((c) => {
    const info: ColumnInfo = { name: c.element.name, type: describeType(c) };
    if (!c.children.length && isLeafBinary(c)) info.binary = true;
    return info;
  });
}

/** A cell that cannot be JSON: the reason, e.g. an integer past 2^53. */
export class CellError extends Error {}

/**
 * A decoded cell as JSON: int64 (bigint) as a number when exact (else CellError), a timestamp as
 * its ISO string, bytes left out (undefined: the key is dropped), lists and structs walked.
 */
export function jsonCell(v: unknown, depth = 0): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return v;
    case 'bigint':
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new CellError(`the integer ${v} is beyond 2^53 and cannot be a JSON number exactly`);
      }
      return Number(v);
    case 'object':
      break;
    default:
      throw new CellError(`a ${typeof v} value cannot be JSON`);
  }
  if (depth > MAX_JSON_DEPTH) throw new CellError(`values nested more than ${MAX_JSON_DEPTH} deep`);
  if (v instanceof Uint8Array) return undefined;
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isFinite(t) ? v.toISOString() : null;
  }
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => jsonCell(x, depth + 1));
  if (Array.isArray(v)) return v.map((x) => jsonCell(x, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const j = jsonCell(x, depth + 1);
    if (j !== undefined) out[k] = j;
  }
  return out;
}
