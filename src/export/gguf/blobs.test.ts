// The page's GGUF download (ggufZip: streamed into one stored .zip in Blobs) and the CLI's
// (`export --format gguf`: each file through the atomic sink) write the same files: fflate's own
// unzip reads the page's archive back to exactly the CLI's bytes, and the slices handed to "Push
// to the Hub" are those bytes too.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { memoryFolder, openModelFolder } from '../../engine/model/weights';
import { run } from './command';
import { ggufZip } from './blobs';

const root = join(__dirname, '../../../../shared/fixtures/reference/tiny-llama');

describe('ggufZip (the page) and export --format gguf (the CLI)', () => {
  it('give the same files, byte for byte, read back by a different zip reader', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gguf-zip-'));
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await run('gguf-adapter', ['--model', join(root, 'model'), '--adapter', join(root, 'adapter_final'), '--type', 'f32', '--out', out]);
    } finally {
      process.stdout.write = write;
    }
    const folder = nodeFolder(join(root, 'model'));
    const { spec, weights } = await openModelFolder(folder);
    const adapterDir = join(root, 'adapter_final');
    const adapter = memoryFolder('adapter', Object.fromEntries(['adapter_config.json', 'adapter_model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(join(adapterDir, f)))])));
    try {
      const page = await ggufZip({ spec, weights, folder, name: 'model' } /* general.name: the CLI names the folder */, adapter, 'gguf-adapter', 'f32');
      const entries = unzipSync(new Uint8Array(await page.zip.arrayBuffer()));
      const cli = readdirSync(out).sort();
      expect(Object.keys(entries).sort()).toEqual(cli);
      expect(cli.some((f) => f.endsWith('.gguf'))).toBe(true);
      for (const f of cli) expect(Buffer.compare(Buffer.from(entries[f]), readFileSync(join(out, f))), f).toBe(0);
      for (const f of page.files) expect(Buffer.compare(Buffer.from(await f.blob.arrayBuffer()), readFileSync(join(out, f.name))), f.name).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
