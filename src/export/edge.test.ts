// The edge for files from outside, as the exporters meet it: the tokenizer files and config.json
// pass the same untrusted reader as the loader (src/data/tokenizer.ts readTokenizerTexts), so a
// file the loader refuses is refused by every exporter with the same error, before it is read.
import { describe, expect, it } from 'vitest';
import { readTokenizerFiles } from '../data/tokenizer';
import { loadModelTokenizer } from '../cli/prepare';
import { loadTokenizer } from '../worker/dataset';
import { memoryFolder, type ModelFolder } from '../engine/model/weights';
import { MAX_JSON_DEPTH, MAX_TOKENIZER_BYTES } from '../io/untrusted/json';
import type { ExportSource } from './source';
import { exportOnnx } from './onnx/export';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const TOKENIZER = JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] } });

/** A folder whose tokenizer.json claims `size` bytes; reading its text fails the test (refusal comes first). */
function oversizedTokenizer(size: number): ModelFolder {
  const inner = memoryFolder('m', { 'config.json': '{"vocab_size": 8}', 'tokenizer_config.json': '{}', 'tokenizer.json': TOKENIZER });
  return {
    ...inner,
    async text(f) {
      if (f === 'tokenizer.json') throw new Error('tokenizer.json was read before its size was checked');
      return inner.text(f);
    },
    async source(f) {
      const s = await inner.source(f);
      return f === 'tokenizer.json' ? { ...s, size } : s;
    },
  };
}

const noSource = {} as ExportSource; // the refusal comes before the export reads any tensor
const noOutput = {
  create: () => {
    throw new Error('the export wrote a file before refusing its input');
  },
};

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => null,
    (x: unknown) => x as Error,
  );
  expect(e).toBeInstanceOf(Error);
  return e!;
}

describe('the exporters read tokenizer files through the loader’s untrusted reader', () => {
  it('a tokenizer.json over the cap: the loader, the GGUF and the ONNX export give the same error', async () => {
    const folder = oversizedTokenizer(MAX_TOKENIZER_BYTES + 1);
    const loader = await refusal(loadTokenizer(folder));
    expect(loader.name).toBe('DatasetError');
    expect(loader.message).toBe(`m/tokenizer.json has ${MAX_TOKENIZER_BYTES + 1} bytes, more than the ${MAX_TOKENIZER_BYTES} this file may have`);
    const gguf = await refusal(readTokenizerFiles(folder)); // what planGgufExport's callers read
    const onnx = await refusal(exportOnnx(noSource, folder, 'none', noOutput));
    for (const e of [gguf, onnx]) {
      expect(e.name).toBe(loader.name);
      expect(e.message).toBe(loader.message);
    }
  });

  it('a tokenizer_config.json nested too deep is refused by the ONNX export as by the loader (it used to be parsed raw)', async () => {
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    const folder = memoryFolder('m', { 'config.json': '{"vocab_size": 8}', 'tokenizer_config.json': deep, 'tokenizer.json': TOKENIZER });
    const loader = await refusal(loadTokenizer(folder));
    const onnx = await refusal(exportOnnx(noSource, folder, 'none', noOutput));
    expect(loader.message).toBe(`m/tokenizer_config.json nests values more than ${MAX_JSON_DEPTH} deep`);
    expect(onnx.message).toBe(loader.message);
  });

  it('the CLI loader (a folder on disk) refuses the same file with the same words, naming its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-'));
    try {
      writeFileSync(join(dir, 'tokenizer.json'), TOKENIZER);
      writeFileSync(join(dir, 'tokenizer_config.json'), '{"chat_template": ' + '['.repeat(MAX_JSON_DEPTH + 1));
      const e = await refusal(loadModelTokenizer(dir));
      expect(e.message).toBe(`${dir}/tokenizer_config.json nests values more than ${MAX_JSON_DEPTH} deep`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
