// The CLI's output folder: checked before any work (a bad path fails in seconds, not after a
// run), and written so that nothing a reader can see is ever half-written. Every file goes to a
// temporary name in the same folder, is flushed, then renamed over the old one (rename is atomic
// within a filesystem). The PEFT pair is two files, so one rename cannot swap both: the new
// weights and config are written to temporary names first, then the old config is removed, the
// weights renamed into place, and the config renamed last. At every moment a reader finds either
// the old pair, no adapter_config.json (no adapter: never a config beside weights it does not
// describe), or the new pair; a crash midway leaves the second state, and the run's checkpoint.
import { constants } from 'node:fs';
import { mkdir, open, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../engine/lora/adapter';

export class OutDirError extends Error {
  override name = 'OutDirError';
}

/** Kernel pseudo-filesystems: writes there never make a file, and some never return. */
const SPECIAL = /^\/(proc|sys|dev)(\/|$)/;

/** Creates `dir` if needed and proves a file can be created in it; the absolute path. */
export async function checkOutDir(flag: string, dir: string): Promise<string> {
  const refuse = (why: string): never => {
    throw new OutDirError(`${flag} ${dir}: ${why}`);
  };
  const abs = resolve(dir);
  if (SPECIAL.test(abs)) refuse('is in a kernel pseudo-filesystem, not a place for files; choose a folder on disk');
  try {
    await mkdir(abs, { recursive: true });
  } catch (e) {
    refuse(`cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const real = await realpath(abs);
  if (SPECIAL.test(real)) refuse(`leads to ${real}, a kernel pseudo-filesystem; choose a folder on disk`);
  if (!(await stat(real)).isDirectory()) refuse('is not a folder');
  const probe = join(real, `.write-test-${process.pid}`);
  try {
    const fh = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
    await fh.close();
    await unlink(probe);
  } catch (e) {
    refuse(`cannot write a file in it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return real;
}

const tempName = (path: string): string => `${path}.tmp-${process.pid}`;

/** Writes `data` under a temporary name next to `path`, flushed to disk; the temporary path. */
async function writeTemp(path: string, data: Uint8Array | string): Promise<string> {
  const tmp = tempName(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return tmp;
}

/** Replaces `path` with `data` atomically: readers see the old file or the new one, whole. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await rename(await writeTemp(path, data), path);
}

/** Writes a PEFT adapter pair into `dir` so that no reader sees a config beside other weights (see above). */
export async function writeAdapterPair(dir: string, config: string, weights: Uint8Array): Promise<void> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  const tmpWeights = await writeTemp(weightsPath, weights);
  let tmpConfig: string;
  try {
    tmpConfig = await writeTemp(configPath, config);
  } catch (e) {
    await rm(tmpWeights, { force: true });
    throw e;
  }
  await rm(configPath, { force: true });
  await rename(tmpWeights, weightsPath);
  await rename(tmpConfig, configPath);
}
