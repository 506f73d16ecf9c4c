// Writes a recipe's files into a temporary folder beside `out`, then renames it to `out`: a failed
// export leaves no half-written folder, and an existing `out` is refused rather than overwritten.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { checkOutDir, OutDirError, writingTo } from '../out-dir';
import type { RecipeFiles } from './build';

export async function writeRecipeFolder(out: string, files: RecipeFiles): Promise<void> {
  const target = resolve(out);
  await checkOutDir('--out', out, false);
  if (existsSync(target)) throw new OutDirError('--out', out, 'already exists (choose a new folder; nothing was written)');
  let tmp: string | null = null;
  try {
    await writingTo('--out', out, async () => {
      await mkdir(dirname(target), { recursive: true });
      tmp = await mkdtemp(join(dirname(target), '.recipe-'));
      for (const [path, content] of files) {
        const file = join(tmp, path);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, content);
      }
      await rename(tmp, target);
    });
  } catch (e) {
    if (tmp) await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
