import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';
import { syntheticModel, type SyntheticModel } from './synthetic-testing';
import { hubSource, folderSource, importModel, storedModelBytes, storedFormatFor, ImportError, type ImportProgress } from './import';
import { memoryKeyValue, ModelStore, StoreFullError, type KeyValue, type ModelManifest } from './store';
import { HubAuthError, HubClient, HubIntegrityError, HubNetworkError, HubNotFoundError, HubQuotaError } from './download';
import { storedWeightSource } from './load';
import { isHostQuantized, readTensor } from '../engine/model/weight-source';
import { memoryFolder } from '../engine/model/weights';
import { quantize } from '../quant/format';
import { f16BitsToF32 as f16ToF32, f32ToF16Bits as f32ToF16 } from '../io/dtype';
import { ModelConfigError } from '../engine/model/config';

const TOKEN = 'hf_gatedSECRET0000';
let hub: StandInHub;
let bf16: SyntheticModel;
let f32: SyntheticModel;
let sharded: SyntheticModel;

const opts = { chunkBytes: 8 * 1024, rowGroupBytes: 2 * 1024, storage: null } as const;

beforeAll(async () => {
  bf16 = syntheticModel({ dtype: 'BF16', layers: 2, vocab: 300, seed: 1 });
  f32 = syntheticModel({ dtype: 'F32', layers: 1, hidden: 48, heads: 4, intermediate: 100, vocab: 130, tie: false, seed: 5 });
  sharded = syntheticModel({ dtype: 'BF16', layers: 3, shards: 3, extraTensor: true, seed: 9 });
  const broken = syntheticModel({ dtype: 'BF16', layers: 1, shards: 2, seed: 3 });
  broken.files.delete('model-00002-of-00002.safetensors');
  const unsupported = syntheticModel({ layers: 1 });
  unsupported.files.set('config.json', JSON.stringify({ ...unsupported.config, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }));
  const truncated = syntheticModel({ layers: 1, seed: 4 });
  truncated.files.set('model.safetensors', (truncated.files.get('model.safetensors') as Uint8Array).subarray(0, 5000));
  hub = await startStandInHub({
    models: {
      'test/bf16': { files: bf16.files },
      'test/f32': { files: f32.files },
      'test/sharded': { files: sharded.files },
      'test/broken-index': { files: broken.files },
      'test/unsupported': { files: unsupported.files },
      'test/truncated': { files: truncated.files },
      'test/gated': { files: bf16.files, token: TOKEN },
      'test/corrupt': { files: syntheticModel({ layers: 1, shards: 2, seed: 8 }).files },
    },
  });
});
afterAll(async () => hub.close());

function client(token?: string): HubClient {
  return new HubClient({ baseUrl: hub.url, token });
}

/** Every stored tensor equals what the format promises from the source values. */
async function expectFaithful(store: ModelStore, manifest: ModelManifest, model: SyntheticModel): Promise<void> {
  const m = await store.open(manifest.key);
  const source = storedWeightSource(m);
  expect(new Set(m.tensorNames)).toEqual(new Set(model.tensors.keys()));
  for (const [name, src] of model.tensors) {
    const info = source.tensors.get(name)!;
    const t = await readTensor(source, name);
    expect(info.shape).toEqual(src.shape);
    if (isHostQuantized(t)) {
      const want = quantize(src.data, src.shape[0], src.shape[1], t.kind);
      expect(t.qweight, name).toEqual(want.qweight);
      expect(t.scales, name).toEqual(want.scales);
    } else if (info.format === 'f16') {
      expect(t.data, name).toEqual(src.data.map((v) => f16ToF32(f32ToF16(v))));
    } else {
      expect(t.data, name).toEqual(src.data); // f32 norms; bf16 kept losslessly
    }
  }
  expect(await m.text('config.json')).toBe(model.files.get('config.json'));
  expect(await m.text('tokenizer.json')).toBe(model.files.get('tokenizer.json'));
}

/** A KeyValue that "dies" (the page closes) after `n` successful writes. */
function dyingAfter(kv: KeyValue, n: number): KeyValue {
  let left = n;
  return {
    ...kv,
    set: async (key, v) => {
      if (left-- <= 0) throw new Error('page closed');
      await kv.set(key, v);
    },
  };
}

describe('import from a stand-in Hub into the store', () => {
  for (const quant of ['int4', 'int8', 'none'] as const) {
    it(`single-file bf16 model → ${quant}: exact stored tensors, manifest last, progress`, async () => {
      const kv = memoryKeyValue();
      const store = new ModelStore(kv);
      const events: ImportProgress[] = [];
      const writes: string[] = [];
      const spy: KeyValue = { ...kv, set: async (k, v) => (writes.push(k), kv.set(k, v)) };
      const manifest = await importModel({ ...opts, store: new ModelStore(spy), source: hubSource(client(), 'test/bf16'), quant, onProgress: (p) => events.push(p) });
      expect(manifest.quant).toBe(quant);
      expect(manifest.chunks.length).toBeGreaterThan(3);
      expect(manifest.chunks.every((c) => c.bytes <= opts.chunkBytes)).toBe(true);
      expect(writes.filter((w) => w.endsWith('|manifest'))).toEqual([`m|${manifest.key}|manifest`]);
      expect(writes[writes.length - 1]).toBe(`m|${manifest.key}|manifest`);
      expect(kv.map.has(`m|${manifest.key}|progress`)).toBe(false);
      await expectFaithful(store, manifest, bf16);
      const small = ['config.json', 'tokenizer.json', 'tokenizer_config.json'].reduce((a, f) => a + new TextEncoder().encode(bf16.files.get(f) as string).byteLength, 0);
      expect(manifest.totalBytes).toBe(storedModelBytes(bf16.spec, quant, 'BF16') + small);
      if (quant === 'none') expect(manifest.tensors.find((t) => t.name.endsWith('q_proj.weight'))!.format).toBe('bf16');
      const last = events[events.length - 1];
      expect(last.phase).toBe('done');
      expect(last.bytesDone).toBe(bf16.weightsBytes);
      expect(last.tensorsDone).toBe(bf16.tensors.size);
      expect(last.download!.done).toBe(bf16.weightsBytes);
      for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
      const list = await store.list();
      expect(list).toMatchObject([{ key: 'hub:test/bf16@main:' + quant, name: 'test/bf16', quant, complete: true, bytes: manifest.totalBytes }]);
      // Importing again returns the stored model without downloading.
      const before = hub.log.length;
      expect((await importModel({ ...opts, store, source: hubSource(client(), 'test/bf16'), quant })).createdAt).toBe(manifest.createdAt);
      expect(hub.log.length).toBe(before);
    });
  }

  it('f32 source, untied lm_head: 16-bit stores f16; int8 quantizes lm_head too', async () => {
    const store = new ModelStore(memoryKeyValue());
    const none = await importModel({ ...opts, store, source: hubSource(client(), 'test/f32'), quant: 'none' });
    expect(none.tensors.find((t) => t.name === 'lm_head.weight')!.format).toBe('f16');
    await expectFaithful(store, none, f32);
    const q = await importModel({ ...opts, store, source: hubSource(client(), 'test/f32'), quant: 'int8' });
    expect(q.tensors.find((t) => t.name === 'lm_head.weight')!.format).toBe('int8');
    expect(q.tensors.find((t) => t.name === 'model.norm.weight')!.format).toBe('f32');
    await expectFaithful(store, q, f32);
    expect((await store.list()).length).toBe(2);
  });

  it('sharded model (index + 3 shards, an extra tensor streamed past), and the same from local files', async () => {
    const store = new ModelStore(memoryKeyValue());
    const m = await importModel({ ...opts, store, source: hubSource(client(), 'test/sharded'), quant: 'int4' });
    expect(m.sourceFiles.map((f) => f.name)).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(m.sourceFiles.every((f) => /^[0-9a-f]{64}$/.test(f.sha256!))).toBe(true);
    expect(m.tensors.some((t) => t.name.includes('rotary'))).toBe(false);
    await expectFaithful(store, m, sharded);
    const local = await importModel({ ...opts, store, source: folderSource(memoryFolder('my-model', sharded.files)), quant: 'int4' });
    expect(local.key).toBe('local:my-model:int4');
    expect(local.source).toBe('local');
    await expectFaithful(store, local, sharded);
  });

  it('a page closed mid-import leaves an incomplete model; resuming continues with a Range request and ends identical', async () => {
    const ref = new ModelStore(memoryKeyValue());
    const refManifest = await importModel({ ...opts, store: ref, source: hubSource(client(), 'test/bf16'), quant: 'int4' });
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const err = await importModel({ ...opts, store: new ModelStore(dyingAfter(kv, 12)), source: hubSource(client(), 'test/bf16'), quant: 'int4' }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('page closed');
    const [entry] = await store.list();
    expect(entry).toMatchObject({ complete: false, orphan: false });
    expect(entry.fraction!).toBeGreaterThan(0);
    expect(entry.fraction!).toBeLessThan(1);
    const rec = (await store.progress(entry.key))!;
    expect(rec.checkpoint!.offset).toBeGreaterThan(0);
    expect(rec.checkpoint!.hash!.length).toBe(rec.checkpoint!.offset);
    const before = hub.log.length;
    const events: ImportProgress[] = [];
    const m = await importModel({ ...opts, store, source: hubSource(client(), 'test/bf16'), quant: 'int4', onProgress: (p) => events.push(p) });
    expect(events[0].resumed).toBe(true);
    const gets = hub.log.slice(before).filter((l) => l.method === 'GET' && l.file === 'model.safetensors');
    expect(gets.some((l) => l.range === `bytes=${rec.checkpoint!.offset}-`)).toBe(true);
    expect(gets.some((l) => l.range === null)).toBe(false); // never from byte 0 again
    await expectFaithful(store, m, bf16);
    // Same tensors as the uninterrupted import.
    const a = await store.open(m.key);
    const b = await ref.open(refManifest.key);
    for (const name of a.tensorNames) expect(await readTensor(storedWeightSource(a), name)).toEqual(await readTensor(storedWeightSource(b), name));
  });

  it('an abort mid-import stops cleanly and resumes; a deleted incomplete import leaves nothing', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const ac = new AbortController();
    let n = 0;
    const e = await importModel({
      ...opts,
      store,
      source: hubSource(client(), 'test/sharded'),
      quant: 'int8',
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase === 'weights' && ++n === 40) ac.abort();
      },
    }).catch((x: unknown) => x);
    expect((e as Error).name).toBe('AbortError');
    const [entry] = await store.list();
    expect(entry.complete).toBe(false);
    const m = await importModel({ ...opts, store, source: hubSource(client(), 'test/sharded'), quant: 'int8' });
    await expectFaithful(store, m, sharded);
    // Another incomplete one, deleted.
    await importModel({ ...opts, store: new ModelStore(dyingAfter(kv, 8)), source: hubSource(client(), 'test/bf16'), quant: 'int8' }).catch(() => {});
    const inc = (await store.list()).find((x) => !x.complete)!;
    await store.delete(inc.key);
    expect([...kv.map.keys()].some((k) => k.includes(inc.key))).toBe(false);
    expect((await store.list()).map((x) => x.key)).toEqual([m.key]);
  });

  it('a dropped connection is a network error; the next attempt resumes and verifies the SHA-256', async () => {
    const store = new ModelStore(memoryKeyValue());
    hub.dropOnce('model.safetensors', 60_000);
    const e = await importModel({ ...opts, store, source: hubSource(client(), 'test/bf16'), quant: 'int4' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HubNetworkError);
    expect((await store.list())[0].complete).toBe(false);
    const m = await importModel({ ...opts, store, source: hubSource(client(), 'test/bf16'), quant: 'int4' });
    await expectFaithful(store, m, bf16);
  });

  it('a shard whose SHA-256 does not match is rolled back alone and reported', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    hub.corrupt('test/corrupt', 'model-00002-of-00002.safetensors', true);
    const e = await importModel({ ...opts, store, source: hubSource(client(), 'test/corrupt'), quant: 'int4' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HubIntegrityError);
    expect((e as Error).message).toMatch(/SHA-256 mismatch/);
    const rec = (await store.progress('hub:test/corrupt@main:int4'))!;
    expect(rec.fileIndex).toBe(1); // the first shard is kept
    expect(rec.checkpoint).toBeNull();
    expect(rec.chunks.length).toBe(rec.fileStart.chunks);
    const chunkKeys = [...kv.map.keys()].filter((k) => k.includes('|chunk|'));
    expect(chunkKeys.length).toBe(rec.chunks.length);
  });

  it('gated model: 401 without a token, works with one; the token never reaches the store', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const e = await importModel({ ...opts, store, source: hubSource(client(), 'test/gated'), quant: 'int4' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HubAuthError);
    expect(kv.map.size).toBe(0);
    const m = await importModel({ ...opts, store, source: hubSource(client(TOKEN), 'test/gated'), quant: 'int4' });
    expect(m.hubId).toBe('test/gated');
    for (const v of kv.map.values()) {
      if (typeof v === 'string' || typeof v === 'object') expect(JSON.stringify(v instanceof Uint8Array ? [] : v)).not.toContain(TOKEN);
    }
  });

  it('bad input gets clear messages and stores nothing', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const run = (id: string): Promise<Error> =>
      importModel({ ...opts, store, source: hubSource(client(), id), quant: 'int4' }).then(
        () => new Error('imported'),
        (x: unknown) => x as Error,
      );
    const missingShard = await run('test/broken-index');
    expect(missingShard).toBeInstanceOf(ImportError);
    expect(missingShard.message).toMatch(/shard "model-00002-of-00002.safetensors" named in model.safetensors.index.json does not exist/);
    const arch = await run('test/unsupported');
    expect(arch).toBeInstanceOf(ModelConfigError);
    expect(arch.message).toMatch(/GPT2LMHeadModel" is not supported/);
    const trunc = await run('test/truncated');
    expect(trunc.name).toBe('SafetensorsError');
    expect(trunc.message).toMatch(/truncated|runs past|outside/);
    const nf = await importModel({ ...opts, store, source: hubSource(client(), 'test/bf16', 'nope'), quant: 'int4' }).then(
      () => new Error('imported'),
      (x: unknown) => x as Error,
    );
    expect(nf).toBeInstanceOf(HubNotFoundError);
    expect(nf.message).toMatch(/config.json was not found in model test\/bf16 \(revision nope\)/);
    expect(kv.map.size).toBe(0);
  });

  it('checks the quota before writing, and a full disk mid-import keeps what is stored', async () => {
    const kv = memoryKeyValue();
    const store = new ModelStore(kv);
    const tiny = { estimate: async () => ({ usage: 0, quota: 1000 }) };
    const q = await importModel({ ...opts, store, source: hubSource(client(), 'test/bf16'), quant: 'int4', storage: tiny }).catch((x: unknown) => x);
    expect(q).toBeInstanceOf(HubQuotaError);
    expect(kv.map.size).toBe(0);
    const kept = await importModel({ ...opts, store, source: hubSource(client(), 'test/f32'), quant: 'int4' });
    const snapshot = new Map(kv.map);
    let writes = 0;
    const filling: KeyValue = {
      ...kv,
      set: async (k, v) => {
        if (++writes > 10) throw Object.assign(new Error('QuotaExceededError'), { name: 'QuotaExceededError' });
        await kv.set(k, v);
      },
    };
    const full = await importModel({ ...opts, store: new ModelStore(filling), source: hubSource(client(), 'test/bf16'), quant: 'int4' }).catch((x: unknown) => x);
    expect(full).toBeInstanceOf(StoreFullError);
    for (const [k, v] of snapshot) expect(kv.map.get(k)).toBe(v);
    const list = await store.list();
    expect(list.find((m) => m.key === kept.key)!.complete).toBe(true);
    expect(list.find((m) => m.key !== kept.key)!.complete).toBe(false);
    await expectFaithful(store, kept, f32);
  });

  it('on a slow download, commits a (small) chunk every few seconds', async () => {
    const store = new ModelStore(memoryKeyValue());
    let t = 0;
    const now = (): number => (t += 700); // each look at the clock: 0.7 s later
    const m = await importModel({ store, source: hubSource(client(), 'test/bf16'), quant: 'int4', chunkBytes: 64 * 1024 * 1024, rowGroupBytes: 4096, commitEverySeconds: 2, now, storage: null });
    expect(m.chunks.length).toBeGreaterThan(3);
    await expectFaithful(store, m, bf16);
  });

  it('storedFormatFor and storedModelBytes (the sizes the UI shows)', () => {
    expect(storedFormatFor('model.layers.0.self_attn.q_proj.weight', [64, 64], 'BF16', 'int4')).toBe('int4');
    expect(storedFormatFor('model.layers.0.input_layernorm.weight', [64], 'BF16', 'int4')).toBe('f32');
    expect(storedFormatFor('model.layers.0.self_attn.q_proj.bias', [64], 'BF16', 'int8')).toBe('f32');
    expect(storedFormatFor('model.embed_tokens.weight', [10, 64], 'F16', 'none')).toBe('f16');
    const spec = bf16.spec;
    const i4 = storedModelBytes(spec, 'int4');
    const i8 = storedModelBytes(spec, 'int8');
    const n16 = storedModelBytes(spec, 'none');
    expect(i4).toBeLessThan(i8);
    expect(i8).toBeLessThan(n16);
  });
});
