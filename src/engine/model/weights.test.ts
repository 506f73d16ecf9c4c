import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { blobFolder } from '../../io/blob-files';
import { nodeFolder } from '../../io/node-files';
import { parseSafetensors, writeSafetensors } from '../../io/safetensors';
import { expectedWeightShapes, loadModelFolder, loadModelWeights, memoryFolder, ModelWeightsError } from './weights';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/reference/', import.meta.url));
const modelDir = (m: string): string => `${FIXTURES}${m}/model`;

const tmp = mkdtempSync(join(tmpdir(), 'lora-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The fixture's tensors as the file holds them. */
function fileTensors(m: string): ReturnType<typeof parseSafetensors> {
  return parseSafetensors('model.safetensors', new Uint8Array(readFileSync(`${modelDir(m)}/model.safetensors`)));
}

describe('loadModelFolder on the fixtures', () => {
  for (const m of ['tiny-llama', 'tiny-qwen2', 'tiny-qwen3']) {
    it(`${m}: every expected tensor, right shape, values as stored`, async () => {
      const { spec, weights } = await loadModelFolder(nodeFolder(modelDir(m)));
      const expected = expectedWeightShapes(spec);
      expect([...weights.keys()]).toEqual([...expected.keys()]);
      const st = fileTensors(m);
      for (const [name, shape] of expected) {
        const w = weights.get(name)!;
        expect(w.shape).toEqual(shape);
        expect(st.index.tensors.get(name)!.shape).toEqual(shape);
        expect(w.data).toEqual(st.f32(name));
      }
    });
  }

  it('expected names and shapes per architecture', async () => {
    const llama = (await loadModelFolder(nodeFolder(modelDir('tiny-llama')))).spec;
    const s = expectedWeightShapes(llama);
    expect(s.get('lm_head.weight')).toEqual([512, 64]);
    expect(s.get('model.layers.1.self_attn.k_proj.weight')).toEqual([32, 64]);
    expect(s.get('model.layers.0.mlp.down_proj.weight')).toEqual([64, 128]);
    expect([...s.keys()].some((k) => k.endsWith('.bias'))).toBe(false);
    expect(s.size).toBe(1 + 2 * 9 + 1 + 1);

    const qwen2 = (await loadModelFolder(nodeFolder(modelDir('tiny-qwen2')))).spec;
    const s2 = expectedWeightShapes(qwen2);
    expect(s2.has('lm_head.weight')).toBe(false);
    expect(s2.get('model.layers.0.self_attn.q_proj.bias')).toEqual([64]);
    expect(s2.get('model.layers.0.self_attn.k_proj.bias')).toEqual([32]);
    expect(s2.get('model.layers.0.self_attn.v_proj.bias')).toEqual([32]);
    expect(s2.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);

    const qwen3 = (await loadModelFolder(nodeFolder(modelDir('tiny-qwen3')))).spec;
    const s3 = expectedWeightShapes(qwen3);
    expect(s3.get('model.layers.1.self_attn.q_norm.weight')).toEqual([32]);
    expect(s3.get('model.layers.1.self_attn.k_norm.weight')).toEqual([32]);
    expect(s3.get('model.layers.1.self_attn.q_proj.weight')).toEqual([128, 64]);
    expect(s3.get('model.layers.1.self_attn.o_proj.weight')).toEqual([64, 128]);
  });

  it('works the same over in-memory files and browser Blobs', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const f of ['config.json', 'model.safetensors']) files[f] = new Uint8Array(readFileSync(`${modelDir('tiny-qwen3')}/${f}`));
    const fromDisk = await loadModelFolder(nodeFolder(modelDir('tiny-qwen3')));
    const fromMemory = await loadModelFolder(memoryFolder('mem', files));
    const blobs = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, new Blob([v as Uint8Array<ArrayBuffer>])]));
    const fromBlobs = await loadModelFolder(blobFolder('picked', blobs));
    expect(fromMemory.spec).toEqual(fromDisk.spec);
    expect(fromMemory.weights).toEqual(fromDisk.weights);
    expect(fromBlobs.weights).toEqual(fromDisk.weights);
  });
});

/** A folder holding tiny-qwen2's config and its tensors split into two shards with an index. */
function shardedFolder(name: string, edit?: (tensors: Map<string, { shape: number[]; data: Float32Array }>) => void, dropShard = false): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  const st = fileTensors('tiny-qwen2');
  const tensors = new Map(st.names().map((n) => [n, { shape: st.index.tensors.get(n)!.shape, data: st.f32(n) }]));
  edit?.(tensors);
  const names = [...tensors.keys()];
  const half = Math.ceil(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const weightMap: Record<string, string> = {};
  mkdirSync(dir, { recursive: true });
  copyFileSync(`${modelDir('tiny-qwen2')}/config.json`, join(dir, 'config.json'));
  shards.forEach((list, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    for (const n of list) weightMap[n] = file;
    if (dropShard && i === 1) return;
    const bytes = writeSafetensors(list.map((n) => ({ name: n, dtype: i === 0 ? 'BF16' : 'F32', ...tensors.get(n)! })), { format: 'pt' });
    writeFileSync(join(dir, file), bytes);
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return dir;
}

describe('sharded checkpoints', () => {
  it('loads shards named by model.safetensors.index.json (BF16 shard converted exactly)', async () => {
    const dir = shardedFolder('sharded');
    const { weights } = await loadModelFolder(nodeFolder(dir));
    const ref = await loadModelFolder(nodeFolder(modelDir('tiny-qwen2')));
    expect([...weights.keys()]).toEqual([...ref.weights.keys()]);
    const bf16 = parseSafetensors('s1', new Uint8Array(readFileSync(join(dir, 'model-00001-of-00002.safetensors'))));
    for (const [name, w] of weights) {
      if (bf16.index.tensors.has(name)) expect(w.data).toEqual(bf16.f32(name));
      else expect(w.data).toEqual(ref.weights.get(name)!.data);
    }
  });

  it('a shard named in the index but missing is an error naming it', async () => {
    const dir = shardedFolder('missing-shard', undefined, true);
    await expect(loadModelFolder(nodeFolder(dir))).rejects.toThrow(ModelWeightsError);
    await expect(loadModelFolder(nodeFolder(dir))).rejects.toThrow(/shard "model-00002-of-00002.safetensors" named in model.safetensors.index.json is missing/);
  });

  it('refuses an index pointing outside the folder', async () => {
    const dir = shardedFolder('escape');
    const idx = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    idx.weight_map['model.norm.weight'] = '../../etc/passwd';
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(idx));
    await expect(loadModelFolder(nodeFolder(dir))).rejects.toThrow(/weight_map\["model.norm.weight"\] must be a relative file name/);
  });
});

describe('weight errors', () => {
  it('a missing tensor names the tensor, file and shape', async () => {
    const dir = shardedFolder('missing-tensor', (t) => t.delete('model.layers.1.mlp.up_proj.weight'));
    await expect(loadModelFolder(nodeFolder(dir))).rejects.toThrow(/tensor "model.layers.1.mlp.up_proj.weight" \(shape \[96, 64\]\) is not in the weight_map/);
  });

  it('a mis-shaped tensor names the tensor, file and both shapes', async () => {
    const dir = shardedFolder('bad-shape', (t) => t.set('model.layers.0.self_attn.k_proj.weight', { shape: [64, 32], data: new Float32Array(64 * 32) }));
    await expect(loadModelFolder(nodeFolder(dir))).rejects.toThrow(
      /tensor "model.layers.0.self_attn.k_proj.weight" in model-00001-of-00002.safetensors has shape \[64, 32\] but the config implies \[32, 64\]/,
    );
  });

  it('single file: missing tensor, extra tensors ignored, tied lm_head ignored', async () => {
    const st = fileTensors('tiny-qwen2');
    const list = st.names().map((n) => ({ name: n, dtype: 'F32' as const, shape: st.index.tensors.get(n)!.shape, data: st.f32(n) }));
    const config = readFileSync(`${modelDir('tiny-qwen2')}/config.json`, 'utf8');
    const extra = [
      ...list,
      { name: 'lm_head.weight', dtype: 'F32' as const, shape: [512, 64], data: new Float32Array(512 * 64) },
      { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32' as const, shape: [8], data: new Float32Array(8) },
    ];
    const { weights } = await loadModelFolder(memoryFolder('m', { 'config.json': config, 'model.safetensors': writeSafetensors(extra) }));
    expect(weights.has('lm_head.weight')).toBe(false);
    expect(weights.has('model.layers.0.self_attn.rotary_emb.inv_freq')).toBe(false);

    const missing = list.filter((t) => t.name !== 'model.norm.weight');
    const folder = memoryFolder('m', { 'config.json': config, 'model.safetensors': writeSafetensors(missing) });
    await expect(loadModelFolder(folder)).rejects.toThrow('m: tensor "model.norm.weight" (shape [64]) is missing from model.safetensors');
  });

  it('a folder without weights, and an untied model without lm_head', async () => {
    const config = readFileSync(`${modelDir('tiny-llama')}/config.json`, 'utf8');
    await expect(loadModelFolder(memoryFolder('empty', { 'config.json': config, 'pytorch_model.bin': new Uint8Array(1) }))).rejects.toThrow(
      /empty: no model.safetensors or model.safetensors.index.json \(PyTorch .bin checkpoints are not supported/,
    );
    const st = fileTensors('tiny-llama');
    const spec = (await loadModelFolder(nodeFolder(modelDir('tiny-llama')))).spec;
    const noHead = st.names().filter((n) => n !== 'lm_head.weight').map((n) => ({ name: n, dtype: 'F32' as const, shape: st.index.tensors.get(n)!.shape, data: st.f32(n) }));
    await expect(loadModelWeights(memoryFolder('nohead', { 'model.safetensors': writeSafetensors(noHead) }), spec)).rejects.toThrow(/tensor "lm_head.weight" \(shape \[512, 64\]\) is missing/);
  });
});
