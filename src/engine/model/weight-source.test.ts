// The weight sources stream a tensor in row ranges, and the GPU upload built on them equals the
// whole-tensor result: the values the file holds (f32), or quantize() over the whole matrix
// (int4: blocks run along a row, so quantizing part by part must change nothing).
import { describe, expect, it } from 'vitest';
import { syntheticModel } from '../../hub/synthetic-testing';
import { folderSource, importModel } from '../../hub/import';
import { memoryKeyValue, ModelStore } from '../../hub/store';
import { openStoredModel, storedWeightSource } from '../../hub/load';
import { quantize } from '../../quant/format';
import { testGpu } from '../kernels/testing';
import { destroyModelWeights, isQuantized, uploadModelWeights } from './gpu-weights';
import { checkWeightShapes, hostWeightSource, ModelWeightsError, readTensor, type WeightPart } from './weight-source';
import { folderWeightSource, memoryFolder } from './weights';

// Parts of 4 KiB: the (256, 64) embedding comes in 16 of them.
const PART = 4096;
const model = syntheticModel({ layers: 1, dtype: 'BF16' });
const EMBED = 'model.embed_tokens.weight';

async function parts(source: { forEachPart(n: string, fn: (p: WeightPart) => void): Promise<void> }, name: string): Promise<WeightPart[]> {
  const out: WeightPart[] = [];
  await source.forEachPart(name, (p) => void out.push('data' in p ? { ...p, data: p.data.slice() } : p));
  return out;
}

describe('weight sources', () => {
  it('a folder hands out a tensor in consecutive row ranges of at most the part size, values as the file holds them', async () => {
    const source = await folderWeightSource(memoryFolder('m', model.files), model.spec, PART);
    const got = await parts(source, EMBED);
    expect(got.length).toBeGreaterThan(1);
    let row = 0;
    for (const p of got) {
      expect(p.rowStart).toBe(row);
      expect('data' in p && p.data.byteLength).toBeLessThanOrEqual(PART);
      row += p.rows;
    }
    expect(row).toBe(256);
    const whole = await readTensor(source, EMBED);
    expect('data' in whole && whole.data).toEqual(model.tensors.get(EMBED)!.data);
  });

  it('a library model (bf16 and int4) reads back what the import stored', async () => {
    const store = new ModelStore(memoryKeyValue());
    for (const quant of ['none', 'int4'] as const) {
      const manifest = await importModel({ store, source: folderSource(memoryFolder('m', model.files)), quant, storage: null, chunkBytes: 16384 });
      const { model: stored } = await openStoredModel(store, manifest.key);
      const source = storedWeightSource(stored, PART);
      const t = model.tensors.get(EMBED)!;
      const whole = await readTensor(source, EMBED);
      if (quant === 'none') expect('data' in whole && whole.data).toEqual(t.data);
      else {
        const want = quantize(t.data, 256, 64, 'int4');
        expect('qweight' in whole && whole.qweight).toEqual(want.qweight);
        expect('qweight' in whole && whole.scales).toEqual(want.scales);
      }
      expect((await parts(source, EMBED)).length).toBeGreaterThan(1);
    }
  });

  it('names a missing or misshapen tensor', () => {
    const src = hostWeightSource('h', new Map([['a', { shape: [2, 3], data: new Float32Array(6) }]]));
    expect(() => checkWeightShapes(src, new Map([['a', [3, 2]]]))).toThrow(ModelWeightsError);
    expect(() => checkWeightShapes(src, new Map([['a', [3, 2]]]))).toThrow(/h: tensor "a" has shape \[2, 3\] but the config implies \[3, 2\]/);
    expect(() => checkWeightShapes(src, new Map([['b', [1]]]))).toThrow(/h: tensor "b" \(shape \[1\]\) is missing/);
  });
});

describe('streamed GPU upload', () => {
  it('int4 from a folder, part by part, equals quantize() of the whole matrix; f32 equals the file', async () => {
    const gpu = await testGpu();
    const source = await folderWeightSource(memoryFolder('m', model.files), model.spec, PART);
    const t = model.tensors.get(EMBED)!;
    const q = await uploadModelWeights(gpu, model.spec, source, 'int4');
    try {
      if (!isQuantized(q.embed)) throw new Error('expected a quantized embedding');
      const want = quantize(t.data, 256, 64, 'int4');
      expect(await gpu.readU32(q.embed.q as GPUBuffer, want.qweight.length)).toEqual(want.qweight);
      expect(await gpu.readF32(q.embed.scales as GPUBuffer, want.scales.length)).toEqual(want.scales);
    } finally {
      destroyModelWeights(gpu, q);
    }
    const f = await uploadModelWeights(gpu, model.spec, source, 'none');
    try {
      expect(await gpu.readF32(f.embed as GPUBuffer, t.data.length)).toEqual(t.data);
      expect(await gpu.readF32(f.norm as GPUBuffer, 64)).toEqual(model.tensors.get('model.norm.weight')!.data);
    } finally {
      destroyModelWeights(gpu, f);
    }
  });
});
