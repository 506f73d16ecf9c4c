// The one atomic sink: an interrupted write leaves the old file and no temporary; every file is
// fsynced before its rename and the folder after it; a full disk is named with the path.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** Paths fsynced, in order, and a switch that makes the next file write fail with ENOSPC. */
const fs = vi.hoisted(() => ({ synced: [] as string[], full: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    open: async (path: string, flags?: string | number) => {
      const fh = await real.open(path, flags);
      return new Proxy(fh, {
        get(target, key) {
          if (key === 'sync') return async () => (fs.synced.push(String(path)), target.sync());
          if (key === 'write' && fs.full) return async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
          const v = Reflect.get(target, key) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
  };
});

const { atomicFiles, commitOrAbort, stagedFolder, writeAdapterPair, writeFileAtomic } = await import('./atomic-sink');
const { OutDirError } = await import('./out-dir');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  fs.synced.length = 0;
  fs.full = false;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const enc = (s: string) => new TextEncoder().encode(s);

describe('atomicFiles', () => {
  it('replaces a file: the file is fsynced before the rename, the folder after it', async () => {
    const path = join(dir, 'state.bin');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['state.bin']);
    expect(fs.synced).toHaveLength(2);
    expect(fs.synced[0]).toMatch(/\/\.state\.bin\.partial-\d+-\d+$/);
    expect(fs.synced[1]).toBe(dir);
  });

  it('an export that fails midway leaves the old file as it was and no temporary', async () => {
    const path = join(dir, 'model.gguf');
    writeFileSync(path, 'the old export');
    const out = atomicFiles(dir);
    const failed = commitOrAbort(out, async () => {
      const f = await out.create('model.gguf');
      await f.write(enc('half of the new'));
      throw new Error('the exporter failed');
    });
    await expect(failed).rejects.toThrow('the exporter failed');
    expect(readFileSync(path, 'utf8')).toBe('the old export');
    expect(readdirSync(dir)).toEqual(['model.gguf']);
  });

  it('a process that stops before commit leaves the old file whole (the new bytes only under a temporary name)', async () => {
    const path = join(dir, 'a.json');
    writeFileSync(path, '{"v": 1}');
    const out = atomicFiles(dir);
    const f = await out.create('a.json');
    await f.write(enc('{"v": 2}'));
    await f.close();
    expect(readFileSync(path, 'utf8')).toBe('{"v": 1}');
    await out.abort();
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('a full disk is an OutDirError naming the flag and the file, and loses nothing', async () => {
    const path = join(dir, 'adapter_model.safetensors');
    writeFileSync(path, 'old weights');
    fs.full = true;
    const e = await writeFileAtomic(path, new Uint8Array(16), '--out').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OutDirError);
    expect((e as Error).message).toBe(`--out ${path}: no space left on the device`);
    expect(readFileSync(path, 'utf8')).toBe('old weights');
    expect(readdirSync(dir)).toEqual(['adapter_model.safetensors']);
  });
});

describe('writeAdapterPair', () => {
  it('replaces both files; a failure writing the config keeps the old pair', async () => {
    await writeAdapterPair(dir, '{"r": 8}', enc('w8'));
    expect(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).toBe('{"r": 8}');
    fs.full = true;
    await expect(writeAdapterPair(dir, '{"r": 16}', enc('w16'))).rejects.toBeInstanceOf(OutDirError);
    expect(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).toBe('{"r": 8}');
    expect(readFileSync(join(dir, 'adapter_model.safetensors'), 'utf8')).toBe('w8');
    expect(readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });
});

describe('stagedFolder', () => {
  it('appears whole at commit (files and folders fsynced), and not at all after a failure', async () => {
    const dest = join(dir, 'onnx-out');
    const out = await stagedFolder(dest);
    const f = await out.create('onnx/model.onnx');
    await f.write(enc('graph'));
    await f.close();
    expect(existsSync(dest)).toBe(false);
    await out.commit();
    expect(readFileSync(join(dest, 'onnx/model.onnx'), 'utf8')).toBe('graph');
    expect(fs.synced.some((p) => p.endsWith('/onnx/model.onnx'))).toBe(true);
    expect(fs.synced.at(-1)).toBe(dir);

    const other = join(dir, 'failed');
    const out2 = await stagedFolder(other);
    await expect(
      commitOrAbort(out2, async () => {
        await (await out2.create('x')).write(enc('x'));
        throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect(readdirSync(dir)).toEqual(['onnx-out']);
  });
});
