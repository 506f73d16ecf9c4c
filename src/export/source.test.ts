import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { nodeFolder } from '../io/node-files';
import { parseSafetensors } from '../io/safetensors';
import { AdapterError } from '../engine/lora/adapter';
import { adapterZipFolder } from '../engine/lora/adapter-zip';
import { isHostQuantized } from '../engine/model/weight-source';
import { PROJECTIONS } from '../engine/model/spec';
import { dequantize, quantize } from '../quant/format';
import { ExportSourceError, mergedProjection, openFolderSource, openMemorySource, quantizeTensor } from './source';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/reference/', import.meta.url));
const dir = (m: string, sub: string): string => `${FIXTURES}${m}/${sub}`;
const file = (m: string, sub: string, f: string) => parseSafetensors(f, new Uint8Array(readFileSync(`${dir(m, sub)}/${f}`)));
const adapterJson = (m: string) => JSON.parse(readFileSync(`${dir(m, 'adapter_final')}/adapter_config.json`, 'utf8')) as { r: number; lora_alpha: number; target_modules: string[] };

describe('export source on the fixtures', () => {
  for (const m of ['tiny-llama', 'tiny-qwen2', 'tiny-qwen3']) {
    it(`${m}: base tensors as stored, one LoRA site per adapted projection with PEFT's scale`, async () => {
      const src = await openFolderSource(nodeFolder(dir(m, 'model')), { adapter: nodeFolder(dir(m, 'adapter_final')) });
      const st = file(m, 'model', 'model.safetensors');
      for (const name of src.shapes.keys()) {
        const t = await src.tensorF32(name);
        expect(t.data).toEqual(st.f32(name));
      }
      const cfg = adapterJson(m);
      const ad = file(m, 'adapter_final', 'adapter_model.safetensors');
      const sites = src.loraSites();
      expect(sites.length).toBe(src.spec.numLayers * cfg.target_modules.length);
      for (const s of sites) {
        expect(s.scale).toBe(cfg.lora_alpha / cfg.r);
        const key = `base_model.model.model.layers.${s.layer}.${s.proj === 'gate_proj' || s.proj === 'up_proj' || s.proj === 'down_proj' ? 'mlp' : 'self_attn'}.${s.proj}`;
        expect(s.A.data).toEqual(ad.f32(`${key}.lora_A.weight`));
        expect(s.B.data).toEqual(ad.f32(`${key}.lora_B.weight`));
      }
      for (const p of PROJECTIONS) expect(src.lora(0, p) !== null).toBe(cfg.target_modules.includes(p));
    });
  }

  it('merging: W + scale * B @ A, checked entry by entry with a plain dot product', async () => {
    const m = 'tiny-qwen2';
    const src = await openFolderSource(nodeFolder(dir(m, 'model')), { adapter: nodeFolder(dir(m, 'adapter_final')) });
    const st = file(m, 'model', 'model.safetensors');
    const ad = file(m, 'adapter_final', 'adapter_model.safetensors');
    const merged = await mergedProjection(src, 1, 'k_proj');
    const W = st.f32('model.layers.1.self_attn.k_proj.weight');
    const A = ad.f32('base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight');
    const B = ad.f32('base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight');
    const [out, inp] = merged.shape;
    const r = 4;
    const scale = 16 / 4;
    for (const [o, i] of [[0, 0], [3, 17], [out - 1, inp - 1]]) {
      let d = 0;
      for (let k = 0; k < r; k++) d += B[o * r + k] * A[k * inp + i];
      expect(merged.data[o * inp + i]).toBeCloseTo(W[o * inp + i] + scale * d, 6);
    }
    // A projection the adapter does not touch comes back as stored.
    const noAdapter = await openFolderSource(nodeFolder(dir(m, 'model')));
    expect((await mergedProjection(noAdapter, 1, 'k_proj')).data).toEqual(W);
    expect(noAdapter.lora(1, 'k_proj')).toBeNull();
  });

  it('an adapter for another model is refused naming the tensor', async () => {
    // tiny-qwen3's LoRA (head_dim 32) on tiny-llama (head_dim 16): q_proj's A/B shapes differ.
    const p = openFolderSource(nodeFolder(dir('tiny-llama', 'model')), { adapter: nodeFolder(dir('tiny-qwen3', 'adapter_final')) });
    await expect(p).rejects.toThrow(AdapterError);
    await expect(p).rejects.toThrow(/layers\.0\.self_attn\.q_proj\.lora_B\.weight/);
  });

  it('an adapter .zip opens like its folder', async () => {
    const a = dir('tiny-llama', 'adapter_final');
    const zip = zipSync({
      'run/adapter_config.json': new Uint8Array(readFileSync(`${a}/adapter_config.json`)),
      'run/adapter_model.safetensors': new Uint8Array(readFileSync(`${a}/adapter_model.safetensors`)),
    });
    const src = await openFolderSource(nodeFolder(dir('tiny-llama', 'model')), { adapter: adapterZipFolder(zip, 'run.zip') });
    expect(src.lora(1, 'down_proj')!.B.data).toEqual(file('tiny-llama', 'adapter_final', 'adapter_model.safetensors').f32('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight'));
    expect(() => adapterZipFolder(zipSync({ 'x.txt': new Uint8Array(1) }), 'x.zip')).toThrow(/x\.zip holds no adapter_config\.json/);
  });

  it("quantizeTensor gives the engine's blocks; an already-quantized tensor passes through, never requantized", async () => {
    const src = await openFolderSource(nodeFolder(dir('tiny-llama', 'model')));
    const name = 'model.layers.0.mlp.down_proj.weight';
    const w = await src.tensorF32(name);
    const q = quantizeTensor(w, 'int4', name);
    const want = quantize(file('tiny-llama', 'model', 'model.safetensors').f32(name), 64, 128, 'int4');
    expect(q.qweight).toEqual(want.qweight);
    expect(q.scales).toEqual(want.scales);
    // A memory source holding that tensor quantized hands it out as is, and f32 as its dequantization.
    const weights = new Map<string, Parameters<typeof quantizeTensor>[0]>();
    for (const n of src.shapes.keys()) weights.set(n, await src.tensor(n));
    weights.set(name, q);
    const mem = await openMemorySource(src.spec, weights, { name: 'loaded' });
    const t = await mem.tensor(name);
    expect(isHostQuantized(t) && t.qweight).toBe(q.qweight);
    expect((await mem.tensorF32(name)).data).toEqual(dequantize(q));
    expect(() => quantizeTensor(q, 'int8', name)).toThrow(ExportSourceError);
    weights.delete('model.norm.weight');
    await expect(openMemorySource(src.spec, weights, { name: 'loaded' })).rejects.toThrow(/loaded: tensor "model\.norm\.weight".*missing/);
  });
});
