import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSource, nodeFolder } from './node-files';
import { readSafetensorsHeader, SafetensorsError } from './safetensors';

const tmp = mkdtempSync(join(tmpdir(), 'lora-node-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('node files', () => {
  it('fileSource reads ranges and refuses reads outside the file', async () => {
    const path = join(tmp, 'a.bin');
    writeFileSync(path, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const src = await fileSource(path);
    expect(src.size).toBe(10);
    expect([...(await src.read(3, 4))]).toEqual([3, 4, 5, 6]);
    expect((await src.read(10, 0)).length).toBe(0);
    await expect(src.read(8, 4)).rejects.toThrow(SafetensorsError);
    await expect(src.read(-1, 2)).rejects.toThrow(/outside the file/);
  });

  it('a hostile header length on disk is refused after reading 8 bytes', async () => {
    const path = join(tmp, 'hostile.safetensors');
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 62n, true);
    writeFileSync(path, bytes);
    await expect(readSafetensorsHeader(await fileSource(path))).rejects.toThrow(/hostile.safetensors: header length \d+ exceeds the maximum/);
  });

  it('nodeFolder: has/text, and no paths outside the folder', async () => {
    writeFileSync(join(tmp, 'config.json'), '{"a":1}');
    const folder = nodeFolder(tmp);
    expect(await folder.has('config.json')).toBe(true);
    expect(await folder.has('nope.json')).toBe(false);
    expect(await folder.text('config.json')).toBe('{"a":1}');
    expect(await folder.has('../etc/passwd')).toBe(false);
    await expect(folder.source('../x')).rejects.toThrow(/not a file name inside the folder/);
    await expect(folder.text('/etc/hostname')).rejects.toThrow(/not a file name inside the folder/);
  });
});
