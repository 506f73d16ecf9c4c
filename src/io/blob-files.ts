// Browser file access: ByteSource and ModelFolder over Blob/File objects (e.g. from a directory
// picker or <input type=file webkitdirectory>). Works wherever Blob exists (browsers, Node ≥ 18).

import { checkRange, type ByteSource } from './safetensors';
import type { ModelFolder } from '../engine/model/weights';

/** A ByteSource reading byte ranges of a Blob on demand. */
export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, blob.size, offset, length);
      const buf = await blob.slice(offset, offset + length).arrayBuffer();
      if (buf.byteLength !== length) throw new Error(`${name}: read ${buf.byteLength} of ${length} bytes at ${offset}`);
      return new Uint8Array(buf);
    },
  };
}

/**
 * A ModelFolder over Blobs keyed by relative file name. For a FileList from a directory input,
 * key each File by its webkitRelativePath without the first (folder) segment.
 */
export function blobFolder(name: string, files: Map<string, Blob> | Record<string, Blob>): ModelFolder {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const get = (f: string): Blob => {
    const b = map.get(f);
    if (!b) throw new Error(`${name}: file "${f}" not found`);
    return b;
  };
  return {
    name,
    has: async (f) => map.has(f),
    text: async (f) => get(f).text(),
    source: async (f) => blobSource(`${name}/${f}`, get(f)),
  };
}
