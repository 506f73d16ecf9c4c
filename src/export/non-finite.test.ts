// A base model whose weights hold NaN or Inf is refused as it loads, by the weight source, naming
// the tensor and the file: for training (any quantization reads the same parts), the GGUF export
// (f16, q8_0) and the ONNX export (fp32, int8).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFolder } from '../io/node-files';
import { openModelFolder } from '../engine/model/weights';
import { ModelWeightsError } from '../engine/model/weight-source';
import { run as runGguf } from './gguf/command';
import { run as runOnnx } from './onnx/command';

const MODEL = join(process.cwd(), '../shared/fixtures/reference/tiny-llama/model');
const TENSOR = 'model.layers.0.mlp.down_proj.weight';

/** The tiny fixture model copied with `value` written at element `at` of TENSOR (an F32 tensor). */
function damagedModel(value: number, at: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'nonfinite-'));
  for (const f of readdirSync(MODEL)) copyFileSync(join(MODEL, f), join(dir, f));
  const b = readFileSync(join(dir, 'model.safetensors'));
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const t = header[TENSOR];
  expect(t.dtype).toBe('F32');
  b.writeFloatLE(value, 8 + n + t.data_offsets[0] + 4 * at);
  writeFileSync(join(dir, 'model.safetensors'), b);
  return dir;
}

const cols = (): number => {
  const b = readFileSync(join(MODEL, 'model.safetensors'));
  const n = Number(b.readBigUInt64LE(0));
  return (JSON.parse(b.subarray(8, 8 + n).toString()) as Record<string, { shape: number[] }>)[TENSOR].shape[1];
};

describe('non-finite base weights', () => {
  it.each([NaN, Infinity, -Infinity])('%s is refused by the weight source, naming the tensor, file, row and column', async (v) => {
    const dir = damagedModel(v, cols() * 3 + 5);
    const { weights } = await openModelFolder(nodeFolder(dir));
    const read = weights.forEachPart(TENSOR, () => {});
    await expect(read).rejects.toBeInstanceOf(ModelWeightsError);
    await expect(weights.forEachPart(TENSOR, () => {})).rejects.toThrow(`/model.safetensors: tensor "${TENSOR}" holds ${v} at row 3, column 5`);
  });

  it.each([
    ['gguf', 'f16'],
    ['gguf', 'q8_0'],
  ])('export --format %s --type %s refuses it (no file written)', async (format, type) => {
    const dir = damagedModel(NaN, 0);
    const out = join(mkdtempSync(join(tmpdir(), 'nonfinite-out-')), 'o');
    await expect(runGguf(format, ['--model', dir, '--type', type, '--out', out])).rejects.toThrow(`tensor "${TENSOR}" holds NaN`);
    expect(readdirSync(out).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it.each(['none', 'int8'])('export --format onnx --quant %s refuses it', async (quant) => {
    const dir = damagedModel(NaN, 0);
    const out = join(mkdtempSync(join(tmpdir(), 'nonfinite-out-')), 'o');
    await expect(runOnnx('onnx', ['--model', dir, '--quant', quant, '--out', out])).rejects.toThrow(`tensor "${TENSOR}" holds NaN`);
  });

  it.each(['none', 'int8', 'int4'])('train --quant %s refuses it before the GPU, exit 1', (quant) => {
    const dir = damagedModel(Infinity, 7);
    const data = join(mkdtempSync(join(tmpdir(), 'nonfinite-data-')), 't.jsonl');
    writeFileSync(data, '{"text": "hello world"}\n{"text": "another line"}\n');
    const out = join(mkdtempSync(join(tmpdir(), 'nonfinite-out-')), 'o');
    const r = spawnSync('npm', ['run', '--silent', 'cli', '--', 'train', '--model', dir, '--data', data, '--out', out, '--quant', quant, '--max-steps', '1'], { cwd: process.cwd(), encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain(`train: --model ${dir}/model.safetensors: tensor "${TENSOR}" holds Infinity at row 0, column 7`);
    expect(r.stderr).not.toMatch(/diverged|RangeError|GpuError/);
  }, 150_000);
});
