// The one way the Node side writes an output (the adapter, checkpoints, GGUF, ONNX, the recipe).
// A file is written under a temporary name in its own folder, fsynced, renamed over its name (a
// rename is atomic within a file system), and the folder is fsynced so the rename survives a
// crash. A reader finds the old file or the new one, whole; a failure removes the temporary and
// loses nothing that existed. Every file system error is an OutDirError naming the flag, the path
// and the cause ("no space left on the device").
//   atomicFiles(dir)   files into an existing folder, renamed into place together at commit();
//   stagedFolder(dest) a new folder: its files are written in a temporary sibling folder that is
//                      renamed to `dest` at commit(), so no half-written export is ever at `dest`.
// The PEFT pair is two files, so one rename cannot swap both (writeAdapterPair): the new weights
// and config are written under temporary names, then the old config is removed, the weights
// renamed into place and the config renamed last. At every moment a reader finds the old pair, no
// adapter_config.json (no adapter: never a config beside weights it does not describe), or the new pair.
import { mkdir, open, readdir, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../engine/lora/adapter';
import type { OutputFile, OutputFiles } from '../util/byte-sink';
import { checkOutDir, OutDirError, writingTo } from './out-dir';

/** Files written so far, committed together or removed together. */
export interface AtomicOutput extends OutputFiles {
  /** Moves every file into place (each must be closed); after it the output is durable. */
  commit(): Promise<void>;
  /** Closes and removes everything written; every file that existed before is as it was. */
  abort(): Promise<void>;
}

let serial = 0;
const partialName = (name: string): string => `.${name}.partial-${process.pid}-${++serial}`;

/** fsync of a folder, so that a rename or a new entry in it is on disk. Skipped where a folder cannot be opened for it (Windows). */
async function syncFolder(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw e;
  } finally {
    await fh.close();
  }
}

/** A new file at `path` (it must not exist) whose close() fsyncs it; errors name `shown` (the file it becomes) under `flag`. */
async function openFile(path: string, shown: string, flag: string, opened: Set<FileHandle>): Promise<OutputFile> {
  const w = <T>(op: () => Promise<T>): Promise<T> => writingTo(flag, shown, op);
  const fh = await w(() => open(path, 'wx'));
  opened.add(fh);
  return {
    write: (bytes) =>
      w(async () => {
        let done = 0;
        while (done < bytes.byteLength) done += (await fh.write(bytes, done, bytes.byteLength - done)).bytesWritten;
      }),
    close: () =>
      w(async () => {
        opened.delete(fh);
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }),
  };
}

async function closeAll(opened: Set<FileHandle>): Promise<void> {
  for (const fh of opened) await fh.close().catch(() => undefined);
  opened.clear();
}

/** Files into the folder `dir` (which must exist), each under a temporary name until commit(). */
export function atomicFiles(dir: string, flag = '--out'): AtomicOutput {
  const pending: { temp: string; path: string }[] = [];
  const opened = new Set<FileHandle>();
  return {
    async create(name) {
      const path = join(dir, ...name.split('/'));
      const temp = join(dirname(path), partialName(basename(path)));
      pending.push({ temp, path });
      return openFile(temp, path, flag, opened);
    },
    async commit() {
      if (opened.size) throw new Error(`${dir}: commit() before every file was closed`);
      for (const p of pending) await writingTo(flag, p.path, () => rename(p.temp, p.path));
      const folders = new Set(pending.map((p) => dirname(p.path)));
      pending.length = 0;
      for (const f of folders) await writingTo(flag, f, () => syncFolder(f));
    },
    async abort() {
      await closeAll(opened);
      for (const p of pending.splice(0)) await rm(p.temp, { force: true });
    },
  };
}

/**
 * A new folder `dest` (absent or empty; a folder that holds files is refused, nothing the user has
 * is overwritten): its files go into a temporary sibling folder, renamed to `dest` at commit().
 */
export async function stagedFolder(dest: string, flag = '--out'): Promise<AtomicOutput> {
  await checkOutDir(flag, dest, false);
  const existing = await readdir(dest).catch(() => null);
  if (existing && existing.length > 0) throw new OutDirError(flag, dest, 'the folder is not empty (choose a new or empty folder)');
  const parent = dirname(dest);
  const tmp = join(parent, partialName(basename(dest)));
  await writingTo(flag, dest, async () => {
    await mkdir(parent, { recursive: true });
    await mkdir(tmp);
  });
  const opened = new Set<FileHandle>();
  const folders = new Set<string>([tmp]);
  return {
    async create(name) {
      const path = join(tmp, ...name.split('/'));
      await writingTo(flag, dest, () => mkdir(dirname(path), { recursive: true }));
      folders.add(dirname(path));
      return openFile(path, join(dest, ...name.split('/')), flag, opened);
    },
    async commit() {
      if (opened.size) throw new Error(`${dest}: commit() before every file was closed`);
      await writingTo(flag, dest, async () => {
        for (const f of folders) await syncFolder(f);
        if (existing) await rmdir(dest); // empty, checked above
        await rename(tmp, dest);
        await syncFolder(parent);
      });
    },
    async abort() {
      await closeAll(opened);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** Fills `out` with `fill`, then commits; on any error removes what was written and rethrows. */
export async function commitOrAbort(out: AtomicOutput, fill: () => Promise<void>): Promise<void> {
  try {
    await fill();
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

async function writeWhole(out: OutputFiles, name: string, data: Uint8Array | string): Promise<void> {
  const f = await out.create(name);
  await f.write(typeof data === 'string' ? new TextEncoder().encode(data) : data);
  await f.close();
}

/** Replaces `path` with `data` atomically: readers see the old file or the new one, whole. */
export async function writeFileAtomic(path: string, data: Uint8Array | string, flag = '--out'): Promise<void> {
  const out = atomicFiles(dirname(path), flag);
  await commitOrAbort(out, () => writeWhole(out, basename(path), data));
}

/** Writes a PEFT adapter pair into `dir` so that no reader sees a config beside other weights (see above). */
export async function writeAdapterPair(dir: string, config: string, weights: Uint8Array, flag = '--out'): Promise<void> {
  const out = atomicFiles(dir, flag);
  await commitOrAbort(out, async () => {
    await writeWhole(out, ADAPTER_WEIGHTS_FILE, weights);
    await writeWhole(out, ADAPTER_CONFIG_FILE, config);
    const configPath = join(dir, ADAPTER_CONFIG_FILE);
    await writingTo(flag, configPath, () => rm(configPath, { force: true }));
  });
}
