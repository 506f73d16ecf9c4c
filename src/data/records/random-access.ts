// Random access to a file's bytes: the shape hyparquet reads (its AsyncBuffer), for a browser
// File/Blob, bytes in memory, or (src/cli/data-files.ts) a Node file. A Parquet file is read
// through it by byte ranges, never whole.

/** hyparquet's AsyncBuffer: a length and byte ranges, read on demand. */
export interface RandomAccess {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer> | ArrayBuffer;
}

export function isRandomAccess(x: unknown): x is RandomAccess {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as RandomAccess).byteLength === 'number' &&
    typeof (x as RandomAccess).slice === 'function' &&
    !(x instanceof Uint8Array) &&
    !(typeof Blob !== 'undefined' && x instanceof Blob)
  );
}

/** A Blob or File read by ranges (`blob.slice(a, b).arrayBuffer()`): only the range is read. */
export function blobRandomAccess(blob: Blob): RandomAccess {
  return { byteLength: blob.size, slice: (start, end = blob.size) => blob.slice(start, end).arrayBuffer() };
}

/** Bytes already in memory (tests, a small file). */
export function bytesRandomAccess(bytes: Uint8Array): RandomAccess {
  return {
    byteLength: bytes.length,
    slice: (start, end = bytes.length) => {
      const part = bytes.subarray(start, end);
      return part.buffer.slice(part.byteOffset, part.byteOffset + part.length) as ArrayBuffer;
    },
  };
}
