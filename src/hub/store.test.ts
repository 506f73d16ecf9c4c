import { describe, expect, it } from 'vitest';
import {
  memoryKeyValue,
  modelKey,
  ModelStore,
  segmentBytes,
  StoreCorruptError,
  StoreFullError,
  StoreMissingError,
  validateManifest,
  type ImportProgressRecord,
  type ModelManifest,
} from './store';
import { packQuantized, quantize } from '../quant/format';
import { storedWeightSource } from './load';
import { readHostTensor, readTensor } from '../engine/model/weight-source';
import { encodeF32As } from '../io/dtype';
import { randn } from '../engine/kernels/random';

/** A small complete model written by hand: one int4 tensor over two chunks, one f32 norm. */
async function writeModel(store: ModelStore, key: string, name = 'tiny'): Promise<{ manifest: ModelManifest; w: Float32Array; norm: Float32Array }> {
  const rows = 6;
  const cols = 40;
  const w = randn(rows * cols, 1, 0.1);
  const norm = randn(cols, 2);
  const a = packQuantized(quantize(w.subarray(0, 4 * cols), 4, cols, 'int4'));
  const b = packQuantized(quantize(w.subarray(4 * cols), 2, cols, 'int4'));
  const nb = encodeF32As(norm, 'f32');
  const chunk0 = a;
  const chunk1 = new Uint8Array(b.byteLength + nb.byteLength);
  chunk1.set(b, 0);
  chunk1.set(nb, b.byteLength);
  const c0 = await store.putChunk(key, 0, chunk0);
  const c1 = await store.putChunk(key, 1, chunk1);
  const f = await store.putFile(key, 'config.json', '{"x":"é"}');
  const manifest: ModelManifest = {
    format: 'lora-studio-model',
    version: 1,
    key,
    name,
    source: 'hub',
    hubId: 'org/tiny',
    revision: 'main',
    quant: 'int4',
    createdAt: new Date().toISOString(),
    totalBytes: c0.bytes + c1.bytes + f.bytes,
    files: [f],
    chunks: [c0, c1],
    tensors: [
      {
        name: 'w',
        shape: [rows, cols],
        format: 'int4',
        rows,
        cols,
        segments: [
          { chunk: 0, offset: 0, bytes: a.byteLength, rowStart: 0, rows: 4 },
          { chunk: 1, offset: 0, bytes: b.byteLength, rowStart: 4, rows: 2 },
        ],
      },
      { name: 'norm', shape: [cols], format: 'f32', rows: 1, cols, segments: [{ chunk: 1, offset: b.byteLength, bytes: nb.byteLength, rowStart: 0, rows: 1 }] },
    ],
    sourceFiles: [],
  };
  await store.putManifest(manifest);
  return { manifest, w, norm };
}

describe('model store (in-memory KeyValue)', () => {
  it('writes, lists, opens, reads tensors back and deletes', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const key = modelKey('hub', 'org/tiny', 'main', 'int4');
    expect(key).toBe('hub:org/tiny@main:int4');
    const { w, norm } = await writeModel(store, key);
    const list = await store.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ key, name: 'tiny', quant: 'int4', complete: true, hubId: 'org/tiny' });
    expect(list[0].bytes).toBeGreaterThan(0);
    const model = await store.open(key);
    expect(await model.text('config.json')).toBe('{"x":"é"}');
    const source = storedWeightSource(model);
    expect(source.tensors.get('w')!.format).toBe('int4');
    const t = await readTensor(source, 'w');
    const direct = quantize(w, 6, 40, 'int4');
    expect('qweight' in t && t.qweight).toEqual(direct.qweight);
    expect('qweight' in t && t.scales).toEqual(direct.scales);
    expect((await readHostTensor(source, 'norm')).data).toEqual(norm);
    const segs: number[] = [];
    await source.forEachPart('w', (p) => void segs.push(p.rowStart));
    expect(segs).toEqual([0, 4]);
    expect((await store.verify(key)).key).toBe(key);
    expect(await store.usage(null)).toEqual({ modelsBytes: list[0].bytes, usage: null, quota: null });
    await store.delete(key);
    expect(await store.list()).toEqual([]);
    expect(kv.map.size).toBe(0);
  });

  it('a chunk whose size does not match the manifest is reported as corrupt', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const { manifest } = await writeModel(store, 'k');
    kv.map.set(manifest.chunks[1].key, new Uint8Array(3));
    const model = await store.open('k');
    await expect(readTensor(storedWeightSource(model), 'norm')).rejects.toBeInstanceOf(StoreCorruptError);
    await expect(store.verify('k')).rejects.toThrow(/chunk 1 holds 3 bytes, the manifest says/);
    kv.map.delete(manifest.chunks[0].key);
    await expect(store.open('k')).rejects.toThrow(/missing from storage/);
  });

  it('a damaged manifest is reported, and the model can still be deleted', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const { manifest } = await writeModel(store, 'k');
    const bad = structuredClone(manifest);
    bad.tensors[0].segments[1].rows = 1;
    expect(() => validateManifest('k', bad)).toThrow(StoreCorruptError);
    kv.map.set('m|k|manifest', bad);
    await expect(store.open('k')).rejects.toThrow(/damaged/);
    await store.delete('k');
    expect(kv.map.size).toBe(0);
  });

  it('chunks without a manifest are an incomplete model: with a progress record resumable, without it an orphan', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    await writeModel(store, 'done');
    await store.putChunk('half', 0, new Uint8Array(100));
    const rec: ImportProgressRecord = {
      key: 'half',
      name: 'Half model',
      source: 'hub',
      hubId: 'org/half',
      revision: 'main',
      quant: 'int8',
      startedAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:01.000Z',
      files: [],
      chunks: [{ key: 'm|half|chunk|000000', bytes: 100 }],
      tensors: [],
      current: null,
      sourceFiles: [],
      fileIndex: 0,
      checkpoint: null,
      fileStart: { chunks: 0, tensors: 0 },
      sourceBytesDone: 250,
      sourceBytesTotal: 1000,
      expectedBytes: 400,
    };
    await store.putProgress(rec);
    await store.putChunk('orphan', 0, new Uint8Array(10));
    const list = await store.list();
    const half = list.find((m) => m.key === 'half')!;
    expect(half).toMatchObject({ complete: false, orphan: false, fraction: 0.25, bytes: 100, name: 'Half model', quant: 'int8' });
    expect(list.find((m) => m.key === 'orphan')).toMatchObject({ complete: false, orphan: true });
    expect(list.find((m) => m.key === 'done')).toMatchObject({ complete: true });
    await expect(store.open('half')).rejects.toBeInstanceOf(StoreMissingError);
    await expect(store.open('half')).rejects.toThrow(/not completely imported \(25% done\): resume or delete/);
    await store.delete('half');
    await store.delete('orphan');
    expect((await store.list()).map((m) => m.key)).toEqual(['done']);
  });

  it('a full disk is a StoreFullError and leaves what is stored intact', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    await writeModel(store, 'keep');
    const before = new Map(kv.map);
    const full = new ModelStore({
      ...kv,
      set: async () => {
        throw Object.assign(new Error('The quota has been exceeded.'), { name: 'QuotaExceededError' });
      },
    });
    await expect(full.putChunk('new', 0, new Uint8Array(10))).rejects.toBeInstanceOf(StoreFullError);
    expect(kv.map).toEqual(before);
    expect((await store.list())[0]).toMatchObject({ key: 'keep', complete: true });
  });

  it('segment sizes', () => {
    expect(segmentBytes('int4', 3, 40)).toBe(3 * (2 * 16 + 2 * 4));
    expect(segmentBytes('int8', 3, 40)).toBe(3 * (2 * 32 + 2 * 4));
    expect(segmentBytes('bf16', 3, 40)).toBe(240);
    expect(segmentBytes('f32', 1, 40)).toBe(160);
  });
});
