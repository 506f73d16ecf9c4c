// OutputFiles over a folder on disk, written all-or-nothing: every file goes into a temporary
// sibling folder, which is renamed to the destination only once the export is complete, so no
// half-written export is ever left where a loader would take it for complete.
import { mkdir, open, readdir, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OutputFile, OutputFiles } from './export';
import { checkOutDir, OutDirError, writingTo } from '../out-dir';

export interface StagedFolder {
  files: OutputFiles;
  /** Moves the finished export into place. */
  commit(): Promise<void>;
  /** Removes everything written (after a failure). */
  abort(): Promise<void>;
}

/**
 * Refuses a destination that already holds files (nothing the user has is overwritten); every file
 * system error of the export's writes is an OutDirError naming `flag`, `dest` and the cause.
 */
export async function stageFolder(dest: string, flag = '--out'): Promise<StagedFolder> {
  await checkOutDir(flag, dest, false);
  const existing = await readdir(dest).catch(() => null);
  if (existing && existing.length > 0) throw new OutDirError(flag, dest, 'the folder is not empty (choose a new or empty folder)');
  const w = <T>(op: () => Promise<T>): Promise<T> => writingTo(flag, dest, op);
  const parent = dirname(dest);
  const tmp = join(parent, `.${basename(dest)}.partial-${process.pid}-${Date.now()}`);
  await w(async () => {
    await mkdir(parent, { recursive: true });
    await mkdir(tmp);
  });
  const open_: FileHandle[] = [];
  return {
    files: {
      async create(path: string): Promise<OutputFile> {
        const full = join(tmp, ...path.split('/'));
        const fh = await w(async () => {
          await mkdir(dirname(full), { recursive: true });
          return open(full, 'wx');
        });
        open_.push(fh);
        return {
          write: (chunk: Uint8Array): Promise<void> =>
            w(async () => {
              let done = 0;
              while (done < chunk.byteLength) {
                const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done);
                done += bytesWritten;
              }
            }),
          close: () =>
            w(async () => {
              await fh.sync();
              await fh.close();
              open_.splice(open_.indexOf(fh), 1);
            }),
        };
      },
    },
    commit: () =>
      w(async () => {
        if (existing) await rmdir(dest); // empty, checked above
        await rename(tmp, dest);
      }),
    async abort(): Promise<void> {
      for (const fh of open_.splice(0)) await fh.close().catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
