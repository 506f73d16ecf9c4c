// OutputFiles over a folder on disk, written all-or-nothing: every file goes into a temporary
// sibling folder, which is renamed to the destination only once the export is complete, so no
// half-written export is ever left where a loader would take it for complete.
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OutputFile, OutputFiles } from './export';

export class OutputFolderError extends Error {
  override name = 'OutputFolderError';
}

export interface StagedFolder {
  files: OutputFiles;
  /** Moves the finished export into place. */
  commit(): Promise<void>;
  /** Removes everything written (after a failure). */
  abort(): Promise<void>;
}

/** Refuses a destination that already holds files (nothing the user has is overwritten). */
export async function stageFolder(dest: string): Promise<StagedFolder> {
  let existing: string[] | null = null;
  try {
    if (!(await stat(dest)).isDirectory()) throw new OutputFolderError(`${dest}: exists and is not a folder`);
    existing = await readdir(dest);
  } catch (e) {
    if (e instanceof OutputFolderError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new OutputFolderError(`${dest}: ${(e as Error).message}`);
  }
  if (existing && existing.length > 0) throw new OutputFolderError(`${dest}: the folder is not empty (choose a new or empty folder)`);
  const parent = dirname(dest);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dest)}.partial-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  const open_: FileHandle[] = [];
  return {
    files: {
      async create(path: string): Promise<OutputFile> {
        const full = join(tmp, ...path.split('/'));
        await mkdir(dirname(full), { recursive: true });
        const fh = await open(full, 'wx');
        open_.push(fh);
        return {
          async write(chunk: Uint8Array): Promise<void> {
            let done = 0;
            while (done < chunk.byteLength) {
              const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done);
              done += bytesWritten;
            }
          },
          close: async () => {
            await fh.sync();
            await fh.close();
            open_.splice(open_.indexOf(fh), 1);
          },
        };
      },
    },
    async commit(): Promise<void> {
      if (existing) await rmdir(dest); // empty, checked above
      await rename(tmp, dest);
    },
    async abort(): Promise<void> {
      for (const fh of open_.splice(0)) await fh.close().catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
