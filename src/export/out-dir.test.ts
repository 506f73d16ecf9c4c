// Every command that writes a folder refuses a bad one with the same typed error, naming the flag,
// the path and the real cause. Read-only and full file systems need a mount; their causes are
// checked from the error codes the kernel gives (EROFS, ENOSPC, EPERM, EACCES).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asOutDirError, checkOutDir, fsCause, OutDirError, writingTo } from './out-dir';
import { run as runGguf } from './gguf/command';
import { run as runOnnx } from './onnx/command';
import { writeRecipeFolder } from './recipe/folder';

const MODEL = join(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');
const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something`), { code });

/** A temporary folder holding a plain file `f`. */
function withFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'outdir-'));
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  return { dir, file };
}

describe('the cause, by error code', () => {
  it.each([
    ['EROFS', 'is on a read-only file system'],
    ['ENOSPC', 'no space left on the device'],
    ['EPERM', 'writing there is not permitted (EPERM)'],
    ['EACCES', 'writing there is not permitted (EACCES)'],
    ['EEXIST', 'exists as a file, not a folder'],
  ])('%s', async (code, cause) => {
    expect(fsCause(errno(code))).toBe(cause);
    const e = await writingTo('--out', '/some/where', () => Promise.reject(errno(code))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OutDirError);
    expect((e as Error).message).toMatch(/^--out \/some\/where: /);
  });

  it('a non-file-system error passes unchanged', async () => {
    const plain = new RangeError('not about files');
    expect(await asOutDirError('--out', '/x', plain)).toBe(plain);
  });
});

describe('a file where the folder should be', () => {
  it('checkOutDir names it, created or not', async () => {
    const { file } = withFile();
    await expect(checkOutDir('--out', file)).rejects.toThrow(`--out ${file}: exists as a file, not a folder`);
    await expect(checkOutDir('--out', file, false)).rejects.toThrow(`--out ${file}: exists as a file, not a folder`);
    await expect(checkOutDir('--out', join(file, 'sub'))).rejects.toThrow(`--out ${join(file, 'sub')}: cannot create the folder: ${file} is a file, not a folder`);
    await expect(checkOutDir('--out', join(file, 'sub'), false)).rejects.toThrow(`--out ${join(file, 'sub')}: ${file} is a file, not a folder`);
  });

  it.each([
    ['gguf', (out: string) => runGguf('gguf', ['--model', MODEL, '--out', out])],
    ['onnx', (out: string) => runOnnx('onnx', ['--model', MODEL, '--out', out])],
    ['recipe', (out: string) => writeRecipeFolder(out, new Map([['README.md', 'x']]))],
  ])('export --format %s refuses it with OutDirError', async (_name, exportTo) => {
    const { file } = withFile();
    const e = await exportTo(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OutDirError);
    expect((e as Error).message).toBe(`--out ${file}: exists as a file, not a folder`);
    const under = join(file, 'sub');
    const e2 = await exportTo(under).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(OutDirError);
    expect((e2 as Error).message).toMatch(new RegExp(`^--out ${under}: .*${file} is a file, not a folder$`));
  });
});
