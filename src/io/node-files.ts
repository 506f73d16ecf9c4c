// Node file access for the io layer (the only module here that imports `node:`).

import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkRange, type ByteSource } from './safetensors';
import { safeFileName, type ModelFolder } from '../engine/model/weights';

/** A ByteSource over a file, reading byte ranges on demand (the file is opened per read). */
export async function fileSource(path: string): Promise<ByteSource> {
  const st = await stat(path);
  if (!st.isFile()) throw new Error(`${path}: not a regular file`);
  const size = st.size;
  return {
    name: path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(path, size, offset, length); // before allocating
      const out = new Uint8Array(length);
      const fh = await open(path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(out, done, Math.min(length - done, 1 << 30), offset + done);
          if (bytesRead === 0) throw new Error(`${path}: file ended at ${offset + done} while reading ${length} bytes at ${offset} (was it changed?)`);
          done += bytesRead;
        }
      } finally {
        await fh.close();
      }
      return out;
    },
  };
}

/** A ModelFolder over a directory on disk. */
export function nodeFolder(dir: string): ModelFolder {
  const path = (f: string): string => {
    if (!safeFileName(f)) throw new Error(`${dir}: "${f}" is not a file name inside the folder`);
    return join(dir, f);
  };
  return {
    name: dir,
    async has(f) {
      try {
        return (await stat(path(f))).isFile();
      } catch {
        return false;
      }
    },
    text: async (f) => readFile(path(f), 'utf8'),
    source: async (f) => fileSource(path(f)),
  };
}
