// Writes a recipe's files as a new folder `out` through the one atomic sink (../atomic-sink.ts): a
// failed export leaves no half-written folder, and an existing `out` is refused rather than overwritten.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkOutDir, OutDirError } from '../out-dir';
import { commitOrAbort, stagedFolder } from '../atomic-sink';
import type { RecipeFiles } from './build';

export async function writeRecipeFolder(out: string, files: RecipeFiles): Promise<void> {
  await checkOutDir('--out', out, false);
  if (existsSync(resolve(out))) throw new OutDirError('--out', out, 'already exists (choose a new folder; nothing was written)');
  const staged = await stagedFolder(out);
  await commitOrAbort(staged, async () => {
    for (const [path, content] of files) {
      const f = await staged.create(path);
      await f.write(typeof content === 'string' ? new TextEncoder().encode(content) : content);
      await f.close();
    }
  });
}
