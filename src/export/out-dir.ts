// The CLI's output folder: checked before any work (a bad path fails in seconds, not after a
// run), and the one error of every write into it (OutDirError). The writes themselves go through
// the one atomic sink (./atomic-sink.ts).
import { constants } from 'node:fs';
import { access, mkdir, open, realpath, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * The one error of every command that writes a folder (train, check-reference, each exporter):
 * the flag, the path and the real cause ("is on a read-only file system", "no space left").
 */
export class OutDirError extends Error {
  override name = 'OutDirError';
  constructor(
    readonly flag: string,
    readonly path: string,
    readonly cause_: string,
  ) {
    super(`${flag} ${path}: ${cause_}`);
  }
}

/** Kernel pseudo-filesystems: writes there never make a file, and some never return. */
const SPECIAL = /^\/(proc|sys|dev)(\/|$)/;

/** A file system error's cause in words, by its code. */
export function fsCause(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EROFS':
      return 'is on a read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'the disk quota is exceeded';
    case 'EACCES':
    case 'EPERM':
      return `writing there is not permitted (${code})`;
    case 'EEXIST':
      return 'exists as a file, not a folder';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    default:
      return code ? `cannot be written (${code}: ${(e as Error).message})` : String((e as Error)?.message ?? e);
  }
}

/**
 * Why `abs` cannot be created: mkdir -p reports ENOENT when a parent cannot be made, so the cause
 * is asked of the nearest existing ancestor (a file there, or a read-only or forbidden folder).
 */
async function creationCause(abs: string, e: unknown): Promise<string> {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EEXIST') return fsCause(e);
  for (let dir = abs; ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => null);
    if (st) {
      if (!st.isDirectory()) return dir === abs ? 'exists as a file, not a folder' : `${dir} is a file, not a folder`;
      try {
        await access(dir, constants.W_OK);
      } catch (a) {
        return dir === abs ? fsCause(a) : `${dir}: ${fsCause(a)}`;
      }
      return fsCause(e);
    }
    if (dirname(dir) === dir) return fsCause(e);
  }
}

/** Any error of writing into `path` for `flag` as an OutDirError with its cause; other errors as they are. */
export async function asOutDirError(flag: string, path: string, e: unknown): Promise<unknown> {
  if (e instanceof OutDirError || typeof (e as NodeJS.ErrnoException)?.code !== 'string') return e;
  return new OutDirError(flag, path, await creationCause(resolve(path), e));
}

/** Runs a write into `path` for `flag`, its file system errors turned into OutDirError. */
export async function writingTo<T>(flag: string, path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw await asOutDirError(flag, path, e);
  }
}

/**
 * Creates `dir` if needed and proves a file can be created in it; the absolute path. With
 * `create` false (a folder an exporter fills by renaming into place) it is not created: it must
 * not be a file, and its nearest existing ancestor must take files.
 */
export async function checkOutDir(flag: string, dir: string, create = true): Promise<string> {
  const refuse = (why: string): never => {
    throw new OutDirError(flag, dir, why);
  };
  const abs = resolve(dir);
  if (SPECIAL.test(abs)) refuse('is in a kernel pseudo-filesystem, not a place for files; choose a folder on disk');
  const existing = await stat(abs).catch(() => null);
  if (existing && !existing.isDirectory()) refuse('exists as a file, not a folder');
  if (!create && !existing) {
    let parent = dirname(abs);
    while (!(await stat(parent).catch(() => null)) && dirname(parent) !== parent) parent = dirname(parent);
    const pst = await stat(parent);
    if (!pst.isDirectory()) refuse(`${parent} is a file, not a folder`);
    await access(parent, constants.W_OK).catch(async (a) => refuse(parent === abs ? fsCause(a) : `${parent}: ${fsCause(a)}`));
    return abs;
  }
  try {
    await mkdir(abs, { recursive: true });
  } catch (e) {
    refuse(`cannot create the folder: ${await creationCause(abs, e)}`);
  }
  const real = await realpath(abs);
  if (SPECIAL.test(real)) refuse(`leads to ${real}, a kernel pseudo-filesystem; choose a folder on disk`);
  const probe = join(real, `.write-test-${process.pid}`);
  try {
    const fh = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
    await fh.close();
    await unlink(probe);
  } catch (e) {
    refuse(`cannot write a file in it: ${fsCause(e)}`);
  }
  return real;
}
