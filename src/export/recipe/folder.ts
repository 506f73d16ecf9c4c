// Writes a recipe's files into a temporary folder beside `out`, then renames it to `out`: a failed
// export leaves no half-written folder, and an existing `out` is refused rather than overwritten.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { RecipeFiles } from './build';
import { RecipeError } from './settings';

export async function writeRecipeFolder(out: string, files: RecipeFiles): Promise<void> {
  const target = resolve(out);
  if (existsSync(target)) throw new RecipeError(`--out ${out}: already exists (choose a new folder; nothing was written)`);
  await mkdir(dirname(target), { recursive: true });
  const tmp = await mkdtemp(join(dirname(target), '.recipe-'));
  try {
    for (const [path, content] of files) {
      const file = join(tmp, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
