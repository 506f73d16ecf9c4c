import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { parseSafetensors, writeSafetensors } from '../../io/safetensors';
import { parseModelConfig } from '../model/config';
import { PROJECTIONS, type ModelSpec } from '../model/spec';
import { memoryFolder } from '../model/weights';
import {
  AdapterError,
  adapterConfigJson,
  expectedLoraShapes,
  initLoraTensors,
  loraKey,
  parseAdapterConfig,
  parseAdapterWeights,
  readAdapter,
  writeAdapter,
} from './adapter';
import { LoraConfigError, loraScale, siteLora, validateLoraSettings, type LoraSettings } from './config';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/reference/', import.meta.url));
const specOf = (m: string): ModelSpec => parseModelConfig(JSON.parse(readFileSync(`${FIXTURES}${m}/model/config.json`, 'utf8')));
const adapterFiles = (m: string, which = 'adapter_init'): { config: Record<string, unknown>; weights: Uint8Array } => ({
  config: JSON.parse(readFileSync(`${FIXTURES}${m}/${which}/adapter_config.json`, 'utf8')),
  weights: new Uint8Array(readFileSync(`${FIXTURES}${m}/${which}/adapter_model.safetensors`)),
});
const folderWith = (config: unknown, weights: Uint8Array): ReturnType<typeof memoryFolder> =>
  memoryFolder('adapter', { 'adapter_config.json': JSON.stringify(config), 'adapter_model.safetensors': weights });

const settings = (over: Partial<LoraSettings> = {}): LoraSettings => ({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, ...over });

describe('LoRA settings', () => {
  it('loraScale: alpha/r, alpha/sqrt(r) with rsLoRA', () => {
    expect(loraScale(settings({ r: 4, alpha: 8 }))).toBe(2);
    expect(loraScale(settings({ r: 16, alpha: 8, useRslora: true }))).toBe(2);
  });

  it('validation names the field', () => {
    expect(() => validateLoraSettings(settings({ r: 0 }))).toThrow(/r must be an integer ≥ 1/);
    expect(() => validateLoraSettings(settings({ r: 2.5 }))).toThrow(/r must be an integer ≥ 1, not 2.5/);
    expect(() => validateLoraSettings(settings({ dropout: 1 }))).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => validateLoraSettings(settings({ dropout: -0.1 }))).toThrow(LoraConfigError);
    expect(() => validateLoraSettings(settings({ targetModules: [] }))).toThrow(/targetModules must be a non-empty list/);
    expect(() => validateLoraSettings(settings({ targetModules: ['lm_head' as never] }))).toThrow(/"lm_head" is not a supported module/);
    expect(() => validateLoraSettings(settings({ targetModules: ['q_proj', 'q_proj'] }))).toThrow(/lists q_proj twice/);
    expect(() => validateLoraSettings(settings({ alpha: 0 }))).toThrow(/alpha must be a positive number/);
  });
});

describe('PEFT keys and init', () => {
  it('loraKey', () => {
    expect(loraKey(3, 'q_proj', 'A')).toBe('base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight');
    expect(loraKey(0, 'down_proj', 'B')).toBe('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight');
  });

  it('initLoraTensors: A ~ U(±1/sqrt(in)), B = 0, deterministic from the seed', () => {
    const spec = specOf('tiny-qwen3');
    const s = settings({ r: 8, targetModules: ['o_proj', 'q_proj'] });
    const a = initLoraTensors(spec, s, 42);
    const b = initLoraTensors(spec, s, 42);
    const c = initLoraTensors(spec, s, 43);
    expect([...a.keys()]).toEqual([...expectedLoraShapes(spec, s).keys()]);
    expect(a.size).toBe(2 * 2 * 2);
    const qA = a.get(loraKey(0, 'q_proj', 'A'))!;
    expect(qA.shape).toEqual([8, 64]);
    const oA = a.get(loraKey(1, 'o_proj', 'A'))!;
    expect(oA.shape).toEqual([8, 128]); // in = heads × head_dim = 128
    for (const [t, fanIn] of [[qA, 64], [oA, 128]] as const) {
      const bound = 1 / Math.sqrt(fanIn);
      const max = Math.max(...t.data.map(Math.abs));
      expect(max).toBeLessThanOrEqual(bound);
      expect(max).toBeGreaterThan(0.9 * bound);
      const mean = t.data.reduce((x, y) => x + y, 0) / t.data.length;
      expect(Math.abs(mean)).toBeLessThan(0.2 * bound);
    }
    expect(a.get(loraKey(0, 'q_proj', 'B'))!.shape).toEqual([128, 8]);
    expect(a.get(loraKey(0, 'q_proj', 'B'))!.data.every((x) => x === 0)).toBe(true);
    expect(b).toEqual(a);
    expect(c.get(loraKey(0, 'q_proj', 'A'))!.data).not.toEqual(qA.data);
    expect(qA.data).not.toEqual(a.get(loraKey(1, 'q_proj', 'A'))!.data);
  });
});

describe('adapter_config.json', () => {
  it('writes exactly the PEFT 0.7 … 0.21 compatible fields', () => {
    const cfg = adapterConfigJson(settings({ targetModules: ['v_proj', 'q_proj'], dropout: 0.05 }), { baseModel: 'HuggingFaceTB/SmolLM2-135M' });
    expect(cfg).toEqual({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'v_proj'],
      bias: 'none',
      fan_in_fan_out: false,
      use_rslora: false,
      use_dora: false,
      init_lora_weights: true,
      base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M',
      revision: null,
      inference_mode: true,
      modules_to_save: null,
      rank_pattern: {},
      alpha_pattern: {},
      layers_to_transform: null,
      layers_pattern: null,
    });
    // every field we write is one PEFT 0.21 wrote too, with the same JSON type
    const peft = adapterFiles('tiny-llama').config;
    for (const [k, v] of Object.entries(cfg)) {
      expect(k in peft).toBe(true);
      if (v !== null && peft[k] !== null) expect(typeof peft[k]).toBe(typeof v);
    }
  });
});

describe('readAdapter / writeAdapter', () => {
  it('reads the three fixture adapters', async () => {
    const cases: Array<[string, Partial<LoraSettings>]> = [
      ['tiny-llama', { r: 4, alpha: 8, targetModules: PROJECTIONS.slice() }],
      ['tiny-qwen2', { r: 4, alpha: 16, targetModules: PROJECTIONS.slice() }],
      ['tiny-qwen3', { r: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] }],
    ];
    for (const [m, want] of cases) {
      const spec = specOf(m);
      for (const which of ['adapter_init', 'adapter_final']) {
        const { settings: s, tensors, baseModel } = await readAdapter(nodeFolder(`${FIXTURES}${m}/${which}`), spec);
        expect(s).toEqual(settings({ dropout: 0, ...want }));
        expect(baseModel).toBeNull();
        const st = parseSafetensors('f', adapterFiles(m, which).weights);
        expect(tensors.size).toBe(st.names().length);
        for (const [k, t] of tensors) {
          expect(t.shape).toEqual(st.index.tensors.get(k)!.shape);
          expect(t.data).toEqual(st.f32(k));
        }
      }
    }
  });

  it('tiny-llama adapter_init round-trips through readAdapter → writeAdapter → parseSafetensors bit for bit', async () => {
    const spec = specOf('tiny-llama');
    const { settings: s, tensors, baseModel } = await readAdapter(nodeFolder(`${FIXTURES}tiny-llama/adapter_init`), spec);
    const out = writeAdapter(spec, s, tensors, baseModel);
    const orig = parseSafetensors('orig', adapterFiles('tiny-llama').weights);
    const back = parseSafetensors('written', out.safetensors);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(back.names().sort()).toEqual(orig.names().sort());
    for (const k of orig.names()) {
      expect(back.index.tensors.get(k)!.dtype).toBe('F32');
      expect(Buffer.from(back.raw(k)).equals(Buffer.from(orig.raw(k)))).toBe(true);
    }
    // same layout as PEFT's file: the whole file is identical
    expect(Buffer.from(out.safetensors).equals(Buffer.from(adapterFiles('tiny-llama').weights))).toBe(true);
    // and it reads back as the same adapter
    const again = await readAdapter(memoryFolder('again', { 'adapter_config.json': out.config, 'adapter_model.safetensors': out.safetensors }), spec);
    expect(again.settings).toEqual(s);
    expect(again.tensors).toEqual(tensors);
    expect(parseAdapterWeights(out.safetensors)).toEqual(new Map([...tensors].sort((a, b) => (a[0] < b[0] ? -1 : 1))));
  });

  it('writeAdapter refuses missing, unexpected and mis-shaped tensors', () => {
    const spec = specOf('tiny-llama');
    const s = settings();
    const t = initLoraTensors(spec, s, 1);
    expect(() => writeAdapter(spec, s, new Map([...t].slice(1)), null)).toThrow(/missing tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"/);
    const extra = new Map(t).set('foo', { shape: [1], data: new Float32Array(1) });
    expect(() => writeAdapter(spec, s, extra, null)).toThrow(/unexpected tensor "foo"/);
    const bad = new Map(t).set(loraKey(1, 'v_proj', 'B'), { shape: [4, 32], data: new Float32Array(128) });
    expect(() => writeAdapter(spec, s, bad, null)).toThrow(/tensor "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight" has shape \[4, 32\] .* needs \[32, 4\]/);
  });

  it('refuses unsupported options by name', async () => {
    const spec = specOf('tiny-llama');
    const { config, weights } = adapterFiles('tiny-llama');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ use_dora: true }, /use_dora true: DoRA is not supported/],
      [{ fan_in_fan_out: true }, /fan_in_fan_out true/],
      [{ bias: 'lora_only' }, /bias "lora_only" is not supported \(supported: "none"\)/],
      [{ rank_pattern: { q_proj: 0 } }, /rank_pattern\["q_proj"\] must be an integer ≥ 1, not 0/],
      [{ alpha_pattern: { 'layers.0.mlp.up_proj': 'x' } }, /alpha_pattern\["layers.0.mlp.up_proj"\] must be a positive number, not "x"/],
      [{ alpha_pattern: [8] }, /alpha_pattern must be an object of module patterns/],
      // Python syntax RE2 cannot run in linear time is refused by name
      [{ rank_pattern: { 'q_proj(?!x)': 2 } }, /rank_pattern key "q_proj\(\?!x\)" regular expression .* backreferences and lookaround are not supported/],
      // a rank the stored tensors do not have: the first mis-shaped tensor is named with its rank
      [{ rank_pattern: { q_proj: 8 } }, /tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" has shape \[4, 64\] but r=8 and the model need \[8, 64\]/],
      // layer 1's tensors in the file, layer 0 only in the config
      [{ layers_to_transform: [0] }, /unexpected tensors "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight".* in layer 0\)/],
      [{ layers_to_transform: 'x' }, /layers_to_transform must be a layer index or a list of layer indices \(integers ≥ 0\), not "x"/],
      [{ layers_to_transform: [0, 1.5] }, /layers_to_transform must be .* not \[0,1.5\]/],
      [{ layers_to_transform: [0], layers_pattern: 'h' }, /layers_pattern "h" names no layer list of this model \(its decoder layers are model.layers.0..1/],
      [{ layers_to_transform: [7] }, /with layers_to_transform selects no module of this model/],
      [{ modules_to_save: ['lm_head'] }, /modules_to_save \["lm_head"\]/],
      [{ peft_type: 'IA3' }, /peft_type "IA3" is not supported/],
      [{ task_type: 'SEQ_CLS' }, /task_type "SEQ_CLS" is not supported/],
      [{ init_lora_weights: 'pissa' }, /init_lora_weights "pissa" is not supported/],
      [{ target_modules: ['q_proj', 'embed_tokens'] }, /selects model.embed_tokens: LoRA on model.embed_tokens is not supported/],
      [{ target_modules: ['self_attn'] }, /selects model.layers.0.self_attn, which is not a Linear layer/],
      [
        { target_modules: 'model\\.layers\\.0\\.self_attn\\.q_proj|model\\.layers\\.1\\.self_attn\\.v_proj' },
        /selects different projections in different layers \(layer 0: q_proj; layer 1: v_proj\)/,
      ],
      [{ target_modules: '.*(?<=q)_proj' }, /target_modules regular expression "\.\*\(\?<=q\)_proj" cannot be used: backreferences and lookaround are not supported/],
      [{ target_modules: 'c_attn' }, /selects no module of this model/],
      [{ r: 0 }, /r must be an integer ≥ 1/],
      [{ lora_dropout: 1.5 }, /dropout must be in \[0, 1\)/],
    ];
    for (const [edit, pattern] of cases) {
      const p = readAdapter(folderWith({ ...config, ...edit }, weights), spec);
      await expect(p, JSON.stringify(edit)).rejects.toThrow(AdapterError);
      await expect(readAdapter(folderWith({ ...config, ...edit }, weights), spec), JSON.stringify(edit)).rejects.toThrow(pattern);
    }
  });

  it('rank_pattern / alpha_pattern: read, matched per module as PEFT does, written back unchanged', () => {
    const spec = specOf('tiny-llama');
    const json = {
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj', 'down_proj'],
      // first matching key wins; a key matches the whole name or a dot-separated tail, as a regex
      rank_pattern: { 'model.layers.1.self_attn.q_proj': 6, q_proj: 2, 'layers\\.\\d+\\.mlp\\..*': 3, proj: 9 },
      alpha_pattern: { v_proj: 32 },
    };
    const { settings: s } = parseAdapterConfig(json, spec);
    const shapes = expectedLoraShapes(spec, s);
    expect(shapes.get(loraKey(0, 'q_proj', 'A'))).toEqual([2, 64]);
    expect(shapes.get(loraKey(1, 'q_proj', 'A'))).toEqual([6, 64]);
    expect(shapes.get(loraKey(1, 'down_proj', 'B'))).toEqual([64, 3]);
    expect(shapes.get(loraKey(0, 'v_proj', 'B'))).toEqual([32, 4]); // "proj" is no dot-separated tail of "v_proj"
    expect(siteLora(s, 0, 'v_proj').scale).toBe(8);
    expect(siteLora(s, 0, 'q_proj').scale).toBe(4);
    expect(siteLora({ ...s, useRslora: true }, 0, 'down_proj').scale).toBeCloseTo(8 / Math.sqrt(3), 12);
    const out = adapterConfigJson(s, { baseModel: null }) as Record<string, unknown>;
    expect(out.rank_pattern).toEqual(json.rank_pattern);
    expect(Object.keys(out.rank_pattern as object)).toEqual(Object.keys(json.rank_pattern));
    expect(out.alpha_pattern).toEqual(json.alpha_pattern);
    const written = writeAdapter(spec, s, initLoraTensors(spec, s, 3), null);
    expect(parseAdapterConfig(JSON.parse(written.config), spec).settings).toEqual(s);
    expect(new Map([...parseAdapterWeights(written.safetensors)].map(([k, t]) => [k, t.shape]))).toEqual(shapes);
    // empty patterns (what PEFT writes by default) are no patterns
    expect(parseAdapterConfig({ ...json, rank_pattern: {}, alpha_pattern: null }, spec).settings).toEqual({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false });
  });

  it('layers_to_transform, and target_modules that adapt some layers, as PEFT selects them', () => {
    const spec = specOf('tiny-llama'); // 2 layers
    const parse = (c: Record<string, unknown>): LoraSettings => parseAdapterConfig({ peft_type: 'LORA', r: 4, ...c }, spec).settings;
    expect(parse({ target_modules: ['q_proj', 'v_proj'], layers_to_transform: 1 }).layersToTransform).toEqual([1]);
    expect(parse({ target_modules: ['q_proj'], layers_to_transform: [1, 0] }).layersToTransform).toBeUndefined(); // every layer
    expect(parse({ target_modules: ['q_proj'], layers_to_transform: [], layers_pattern: null }).layersToTransform).toBeUndefined();
    expect(parse({ target_modules: ['q_proj'], layers_to_transform: [1, 5], layers_pattern: ['layers'] }).layersToTransform).toEqual([1]);
    // PEFT applies no layer filter to a full module name, nor to a regex string
    expect(parse({ target_modules: ['model.layers.0.self_attn.q_proj'], layers_to_transform: [1] }).layersToTransform).toEqual([0]);
    const byRegex = parse({ target_modules: 'model\\.layers\\.1\\.(self_attn\\.o_proj|mlp\\.up_proj)', layers_to_transform: [0] });
    expect(byRegex).toMatchObject({ targetModules: ['o_proj', 'up_proj'], layersToTransform: [1] });
    const s = parse({ target_modules: ['q_proj', 'down_proj'], layers_to_transform: [1] });
    const shapes = expectedLoraShapes(spec, s);
    expect([...shapes.keys()]).toEqual([loraKey(1, 'q_proj', 'A'), loraKey(1, 'q_proj', 'B'), loraKey(1, 'down_proj', 'A'), loraKey(1, 'down_proj', 'B')]);
    const written = writeAdapter(spec, s, initLoraTensors(spec, s, 3), null);
    expect(JSON.parse(written.config)).toMatchObject({ layers_to_transform: [1], layers_pattern: null, target_modules: ['q_proj', 'down_proj'] });
    expect(parseAdapterConfig(JSON.parse(written.config), spec).settings).toEqual(s);
    expect(() => validateLoraSettings({ ...s, layersToTransform: [1, 1] })).toThrow(/ascending order without repeats/);
    // exclude_modules: names (a full name or a dot-separated tail) or a full-match regex
    expect(parse({ target_modules: ['q_proj', 'v_proj'], exclude_modules: ['model.layers.0.self_attn.q_proj', 'layers.0.self_attn.v_proj'] })).toMatchObject({
      targetModules: ['q_proj', 'v_proj'],
      layersToTransform: [1],
    });
    expect(parse({ target_modules: 'all-linear', exclude_modules: '.*mlp.*' }).targetModules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    expect(parse({ target_modules: ['q_proj', 'up_proj'], exclude_modules: '.*mlp.*' }).targetModules).toEqual(['q_proj']);
    expect(parse({ target_modules: ['q_proj', 'v_proj'], exclude_modules: 'q_proj' }).targetModules).toEqual(['q_proj', 'v_proj']); // a regex matches whole names
    expect(() => parse({ target_modules: ['q_proj'], exclude_modules: ['q_proj'] })).toThrow(/selects no module of this model/);
    expect(() => parse({ target_modules: ['q_proj'], exclude_modules: 3 })).toThrow(/exclude_modules must be a list of module names or a string, not 3/);
  });

  it('target_modules: list, PEFT regex string, plain name, all-linear', () => {
    const spec = specOf('tiny-qwen3');
    const targets = (tm: unknown): string[] => parseAdapterConfig({ peft_type: 'LORA', r: 8, target_modules: tm }, spec).settings.targetModules;
    expect(targets(['v_proj', 'self_attn.q_proj', 'not_in_this_model'])).toEqual(['q_proj', 'v_proj']);
    expect(targets('.*\\.(q_proj|v_proj)')).toEqual(['q_proj', 'v_proj']);
    expect(targets('model.layers.*.mlp.*_proj')).toEqual(['gate_proj', 'up_proj', 'down_proj']);
    expect(targets('q_proj')).toEqual(['q_proj']);
    expect(targets('all-linear')).toEqual(PROJECTIONS.slice());
    expect(() => targets(3)).toThrow(/target_modules must be a list of module names or a string/);
    // defaults as PEFT's: r 8, alpha 8, dropout 0
    expect(parseAdapterConfig({ peft_type: 'LORA', target_modules: ['q_proj'] }, spec).settings).toEqual({ r: 8, alpha: 8, dropout: 0, targetModules: ['q_proj'], useRslora: false });
  });

  it('refuses missing, mis-shaped and unexpected tensors, naming the key', async () => {
    const spec = specOf('tiny-llama');
    const { config, weights } = adapterFiles('tiny-llama');
    const st = parseSafetensors('w', weights);
    const list = st.names().map((n) => ({ name: n, dtype: 'F32' as const, shape: st.index.tensors.get(n)!.shape, data: st.f32(n) }));
    const key = loraKey(1, 'up_proj', 'B');

    const missing = writeSafetensors(list.filter((t) => t.name !== key));
    await expect(readAdapter(folderWith(config, missing), spec)).rejects.toThrow(`adapter/adapter_model.safetensors: missing tensor "${key}" (shape [128, 4])`);

    const misShaped = writeSafetensors(list.map((t) => (t.name === key ? { ...t, shape: [4, 128] } : t)));
    await expect(readAdapter(folderWith(config, misShaped), spec)).rejects.toThrow(`tensor "${key}" has shape [4, 128] but r=4 and the model need [128, 4]`);

    const extra = writeSafetensors([...list, { name: 'base_model.model.lm_head.lora_A.weight', dtype: 'F32', shape: [4, 64], data: new Float32Array(256) }]);
    await expect(readAdapter(folderWith(config, extra), spec)).rejects.toThrow(/unexpected tensor "base_model.model.lm_head.lora_A.weight"/);

    // fewer targets in the config than tensors in the file → the rest are unexpected
    await expect(readAdapter(folderWith({ ...config, target_modules: ['q_proj'] }, weights), spec)).rejects.toThrow(/unexpected tensors .* and \d+ more/);

    // the qwen3 adapter (r=8, head_dim 32) does not fit tiny-llama
    await expect(readAdapter(nodeFolder(`${FIXTURES}tiny-qwen3/adapter_init`), spec)).rejects.toThrow(/has shape \[8, 64\] but r=8 and the model need|has shape \[128, 8\]|has shape \[64, 8\]/);

    // F16/BF16 adapters load, converted to f32
    const half = writeSafetensors(list.map((t) => ({ ...t, dtype: 'BF16' as const })));
    const got = await readAdapter(folderWith(config, half), spec);
    expect(got.tensors.get(key)!.data).toEqual(parseSafetensors('h', half).f32(key));

    await expect(readAdapter(memoryFolder('nothing', { 'adapter_config.json': JSON.stringify(config), 'adapter_model.bin': new Uint8Array(1) }), spec)).rejects.toThrow(
      /adapter_model.safetensors: missing \(adapter_model.bin is not supported/,
    );
  });
});
