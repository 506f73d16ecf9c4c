// A streaming GGUF (v3) writer.
//
// @huggingface/gguf reads GGUF and serializes the key/value header (serializeGgufMetadata, used
// here for the KV section), but it has no writer for tensor infos or tensor data: its only other
// writer (buildGgufHeader) copies the tensor infos of an existing file. So the rest is written here:
//
//   "GGUF" u32 version=3 u64 n_tensors u64 n_kv  KV...            (serializeGgufMetadata)
//   per tensor: string name, u32 n_dims, u64 ne[n_dims] (ne[0] innermost), u32 ggml type,
//               u64 offset (from the start of the data section, a multiple of the alignment)
//   zero padding to `general.alignment` (32), then each tensor's bytes, each padded to 32 (as gguf-py).
//
// Tensor infos need every tensor's byte size up front, which follows from its shape and type, so
// the header is written first and the tensors are produced one at a time afterwards: the whole
// model is never in memory.

import { serializeGgufMetadata, GGUFValueType, type GGUFTypedMetadata } from '@huggingface/gguf';
import { ggmlTypeBytes, type GgmlType } from './ggml-types';
import type { ByteSink } from '../../util/byte-sink';

export const GGUF_ALIGNMENT = 32;

/** One metadata value with its GGUF type (arrays carry their element type). */
export type KvValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'i32[]' | 'f32[]'; value: readonly number[] };

export type Kv = Record<string, KvValue>;

export interface TensorPlan {
  /** GGUF tensor name (engine/model/arch gguf-names.ts). */
  name: string;
  /** Shape in PyTorch order (outermost first); written reversed as GGUF's ne[]. */
  shape: readonly number[];
  type: GgmlType;
  /** The tensor's bytes, exactly ggmlTypeBytes(type, shape); called once, in file order. */
  data(): Promise<Uint8Array>;
}


export class GgufWriteError extends Error {
  override name = 'GgufWriteError';
}

function typedKv(kv: Kv): Record<string, { type: GGUFValueType; value: unknown; subType?: GGUFValueType }> {
  const out: Record<string, { type: GGUFValueType; value: unknown; subType?: GGUFValueType }> = {};
  for (const [key, v] of Object.entries(kv)) {
    switch (v.type) {
      case 'u32':
        out[key] = { type: GGUFValueType.UINT32, value: v.value };
        break;
      case 'i32':
        out[key] = { type: GGUFValueType.INT32, value: v.value };
        break;
      case 'f32':
        out[key] = { type: GGUFValueType.FLOAT32, value: v.value };
        break;
      case 'u64':
        out[key] = { type: GGUFValueType.UINT64, value: BigInt(v.value) };
        break;
      case 'bool':
        out[key] = { type: GGUFValueType.BOOL, value: v.value };
        break;
      case 'string':
        out[key] = { type: GGUFValueType.STRING, value: v.value };
        break;
      case 'string[]':
        out[key] = { type: GGUFValueType.ARRAY, value: [...v.value], subType: GGUFValueType.STRING };
        break;
      case 'i32[]':
        out[key] = { type: GGUFValueType.ARRAY, value: [...v.value], subType: GGUFValueType.INT32 };
        break;
      case 'f32[]':
        out[key] = { type: GGUFValueType.ARRAY, value: [...v.value], subType: GGUFValueType.FLOAT32 };
        break;
    }
  }
  return out;
}

const pad = (n: number): number => Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;

function tensorInfos(tensors: readonly TensorPlan[]): { bytes: Uint8Array; sizes: number[] } {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = ggmlTypeBytes(t.type, t.shape, t.name);
    sizes.push(size);
    const name = enc.encode(t.name);
    const b = new Uint8Array(8 + name.length + 4 + 8 * t.shape.length + 4 + 8);
    const dv = new DataView(b.buffer);
    let o = 0;
    dv.setBigUint64(o, BigInt(name.length), true);
    o += 8;
    b.set(name, o);
    o += name.length;
    dv.setUint32(o, t.shape.length, true);
    o += 4;
    for (let i = t.shape.length - 1; i >= 0; i--) {
      dv.setBigUint64(o, BigInt(t.shape[i]), true);
      o += 8;
    }
    dv.setUint32(o, t.type, true);
    o += 4;
    dv.setBigUint64(o, BigInt(offset), true);
    parts.push(b);
    offset += pad(size);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, sizes };
}

/**
 * Writes a GGUF file to `sink`: header, then each tensor as its `data()` resolves. Returns the
 * number of bytes written. `general.alignment` is set to 32 (GGUF's default, stated explicitly).
 */
export async function writeGguf(sink: ByteSink, kv: Kv, tensors: readonly TensorPlan[]): Promise<number> {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufWriteError(`GGUF: tensor "${t.name}" twice`);
    names.add(t.name);
  }
  const meta = {
    version: { type: GGUFValueType.UINT32, value: 3 },
    tensor_count: { type: GGUFValueType.UINT64, value: BigInt(tensors.length) },
    kv_count: { type: GGUFValueType.UINT64, value: 0n },
    ...typedKv({ ...kv, 'general.alignment': { type: 'u32', value: GGUF_ALIGNMENT } }),
  } as unknown as GGUFTypedMetadata;
  // alignment 1: no padding after the KV section, the tensor infos follow it directly.
  const head = serializeGgufMetadata(meta, { alignment: 1 });
  const infos = tensorInfos(tensors);
  const headerLen = head.length + infos.bytes.length;
  await sink.write(head);
  await sink.write(infos.bytes);
  await sink.write(new Uint8Array(pad(headerLen) - headerLen));
  let written = pad(headerLen);
  for (let i = 0; i < tensors.length; i++) {
    const bytes = await tensors[i].data();
    if (bytes.length !== infos.sizes[i]) {
      throw new GgufWriteError(`GGUF: tensor "${tensors[i].name}" produced ${bytes.length} bytes, expected ${infos.sizes[i]}`);
    }
    await sink.write(bytes);
    const padded = pad(bytes.length);
    if (padded > bytes.length) await sink.write(new Uint8Array(padded - bytes.length));
    written += padded;
  }
  return written;
}
