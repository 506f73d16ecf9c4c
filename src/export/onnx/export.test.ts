// The ONNX export run in onnxruntime-web (wasm backend, in Node) against PyTorch's logits after
// training (f32 base, LoRA merged) and against the engine's own quantized forward (int8/int4
// base: MatMulNBits on the studio's blocks, LoRA as a branch), plus the KV cache and bad input.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFolder } from '../../io/node-files';
import { parseSafetensors } from '../../io/safetensors';
import { testGpu } from '../../engine/kernels/testing';
import { readAdapter } from '../../engine/lora/adapter';
import { loadModelFolder, memoryFolder } from '../../engine/model/weights';
import { Trainer } from '../../engine/train/trainer';
import { DEFAULT_TRAIN } from '../../engine/train/types';
import { openFolderSource, openMemorySource } from '../source';
import type { HostTensor } from '../../engine/model/spec';
import { dequantize, quantize } from '../../quant/format';
import { buildDecoderGraph, IR_VERSION, OPSET, type OnnxQuant } from './decoder';
import { writeModel } from './write';
import type { ByteSink } from '../../util/byte-sink';
import { exportOnnx, ONNX_DTYPES } from './export';
import { run as cliExport } from './command';
import { stagedFolder } from '../atomic-sink';
import { OrtDecoder } from './ort-decoder';
import { engineComputes, variantFiles } from '../fixture-variants-testing';

const root = resolve(process.cwd(), '../shared/fixtures/reference');
const fixtures = ['tiny-llama', 'tiny-qwen2', 'tiny-qwen3', 'tiny-gemma3', 'tiny-gemma2', 'tiny-phi3'];
const tmp = mkdtempSync(join(tmpdir(), 'onnx-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

ort.env.wasm.numThreads = 1;

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
}

/** Exports fixture `name` (model/ + adapter_final/) once per quant and opens it in onnxruntime-web. */
const exports = new Map<string, Promise<{ dir: string; decoder: OrtDecoder }>>();
function exportFixture(name: string, quant: OnnxQuant): Promise<{ dir: string; decoder: OrtDecoder }> {
  const key = `${name}-${quant}`;
  let p = exports.get(key);
  if (!p) {
    p = (async () => {
      const fx = join(root, name);
      const dir = join(tmp, key);
      const model = nodeFolder(join(fx, 'model'));
      const src = await openFolderSource(model, { adapter: nodeFolder(join(fx, 'adapter_final')) });
      const staged = await stagedFolder(dir);
      await exportOnnx(src, model, quant, staged);
      await staged.commit();
      const decoder = await OrtDecoder.create(ort, new Uint8Array(readFileSync(join(dir, 'onnx', ONNX_DTYPES[quant].file))), src.spec);
      return { dir, decoder };
    })();
    exports.set(key, p);
  }
  return p;
}

/** Max |a - b| over the batch positions with attention_mask 1. */
function maskedMaxErr(a: Float32Array, b: Float32Array, batch: Batch, V: number): number {
  const mask = batch.attention_mask.flat();
  let err = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let v = 0; v < V; v++) err = Math.max(err, Math.abs(a[i * V + v] - b[i * V + v]));
  }
  return err;
}

function positions(batch: Batch): number[][] {
  return batch.input_ids.map((row) => row.map((_, t) => t));
}

for (const name of fixtures) {
  describe.skipIf(!existsSync(join(root, name, 'model', 'config.json')))(`ONNX export of ${name}`, () => {
    const fx = join(root, name);
    let batch: Batch;
    let V: number;
    let afterTraining: Float32Array;
    beforeAll(() => {
      batch = JSON.parse(readFileSync(join(fx, 'batch.json'), 'utf8')) as Batch;
      const ref = parseSafetensors('reference.safetensors', new Uint8Array(readFileSync(join(fx, 'reference.safetensors'))));
      afterTraining = ref.f32('logits_after_training');
      V = ref.index.tensors.get('logits_after_training')!.shape[2];
    });

    it('f32 base with the LoRA merged: logits within 2e-3 of PyTorch after training at every unpadded position; the KV cache gives the same logits', async () => {
      const { decoder } = await exportFixture(name, 'none');
      const { logits } = await decoder.forward(batch.input_ids, positions(batch), batch.attention_mask);
      const err = maskedMaxErr(logits, afterTraining, batch, V);
      console.log(`${name} onnx f32: max |Δlogit| vs logits_after_training ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(2e-3);

      // Prompt of 7 tokens, then 3 more one at a time with the cache: each step's logits equal
      // the full forward's row at that position (a right-padded row's real tokens only).
      const row = batch.input_ids[0];
      let { cache } = await decoder.forward([row.slice(0, 7)], [[0, 1, 2, 3, 4, 5, 6]], [[1, 1, 1, 1, 1, 1, 1]]);
      let stepErr = 0;
      for (let t = 7; t < 10; t++) {
        const step = await decoder.forward([[row[t]]], [[t]], [Array.from({ length: t + 1 }, () => 1)], cache);
        cache = step.cache;
        for (let v = 0; v < V; v++) stepErr = Math.max(stepErr, Math.abs(step.logits[v] - logits[t * V + v]));
      }
      expect(cache['past_key_values.0.key'].dims).toEqual([1, decoder.dims.numKvHeads, 10, decoder.dims.headDim]);
      expect(stepErr).toBeLessThanOrEqual(1e-4);
    });

    it.runIf(engineComputes(name, 'training'))("int4 base: MatMulNBits on the studio's blocks with the LoRA as a branch gives the engine's own int4 logits, so within the engine's int4 error of PyTorch (once the engine trains the family)", async () => {
      // The engine's forward (GPU) on the same int4 base with the trained adapter.
      const gpu = await testGpu();
      const { spec, weights } = await loadModelFolder(nodeFolder(join(fx, 'model')));
      const adapter = await readAdapter(nodeFolder(join(fx, 'adapter_final')), spec);
      const B = batch.input_ids.length;
      const T = batch.input_ids[0].length;
      const trainer = await Trainer.create(gpu, { spec, weights }, adapter.settings, DEFAULT_TRAIN, { maxBatch: B, maxSeq: T, initAdapter: adapter.tensors, quant: 'int4' });
      const ids = Int32Array.from(batch.input_ids.flat());
      const engine = await trainer.logits({ B, T, inputIds: ids, attentionMask: Int32Array.from(batch.attention_mask.flat()), labels: ids });
      trainer.destroy();
      const { decoder } = await exportFixture(name, 'int4');
      const { logits } = await decoder.forward(batch.input_ids, positions(batch), batch.attention_mask);
      const vsEngine = maskedMaxErr(logits, engine, batch, V);
      const engineErr = maskedMaxErr(engine, afterTraining, batch, V);
      const onnxErr = maskedMaxErr(logits, afterTraining, batch, V);
      console.log(`${name} int4: onnx vs engine ${vsEngine.toExponential(2)}; vs PyTorch: engine ${engineErr.toExponential(2)}, onnx ${onnxErr.toExponential(2)}`);
      expect(vsEngine).toBeLessThanOrEqual(2e-3);
      expect(onnxErr).toBeLessThanOrEqual(engineErr + 2e-3);
    }, 600_000);

    for (const quant of ['int8', 'int4'] as const) {
      it(`${quant} base: the same logits as an f32 export of the dequantized ${quant} base (blocks copied, not requantized)`, async () => {
        const { decoder } = await exportFixture(name, quant);
        const { logits } = await decoder.forward(batch.input_ids, positions(batch), batch.attention_mask);
        // The f32 path (checked against PyTorch above) over the base's quantized values.
        const model = nodeFolder(join(fx, 'model'));
        const plain = await openFolderSource(model);
        const dequantized = new Map<string, HostTensor>();
        for (const [t, shape] of plain.shapes) {
          const w = await plain.tensorF32(t);
          const matrix = shape.length === 2;
          dequantized.set(t, matrix ? { shape: w.shape, data: dequantize(quantize(w.data, shape[0], shape[1], quant)) } : w);
        }
        const src = await openMemorySource(plain.spec, dequantized, { adapter: nodeFolder(join(fx, 'adapter_final')) });
        const dir = join(tmp, `${name}-${quant}-dequantized`);
        const staged = await stagedFolder(dir);
        await exportOnnx(src, model, 'none', staged);
        await staged.commit();
        const f32 = await OrtDecoder.create(ort, new Uint8Array(readFileSync(join(dir, 'onnx', 'model.onnx'))), src.spec);
        const want = (await f32.forward(batch.input_ids, positions(batch), batch.attention_mask)).logits;
        const err = maskedMaxErr(logits, want, batch, V);
        console.log(`${name} ${quant}: onnx vs f32 over the ${quant} values ${err.toExponential(2)}; vs PyTorch ${maskedMaxErr(logits, afterTraining, batch, V).toExponential(2)}`);
        expect(err).toBeLessThanOrEqual(1e-4);
      });
    }
  });
}

describe("LongRoPE: transformers' short / long factors by the sequence's length", () => {
  /** tiny-phi3 (its adapter_final merged) with partial rotary 0.5 and LongRoPE over original_max_position_embeddings 8. */
  async function longrope(short: number[], long: number[]): Promise<OrtDecoder> {
    const files = variantFiles({
      fixture: 'tiny-phi3',
      change: (p) => void Object.assign(p.config, { partial_rotary_factor: 0.5, original_max_position_embeddings: 8, rope_scaling: { type: 'longrope', short_factor: short, long_factor: long } }),
    });
    const src = await openFolderSource(memoryFolder('tiny-phi3', files.model), { adapter: memoryFolder('adapter', files.adapter) });
    const collect: Uint8Array[] = [];
    await writeModel(buildDecoderGraph(src, 'none'), { write: async (c) => void collect.push(c.slice()) }, { opsets: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }], irVersion: IR_VERSION, producer: 'test' });
    return OrtDecoder.create(ort, Uint8Array.from(collect.flatMap((c) => [...c])), src.spec);
  }
  it('a sequence within original_max_position_embeddings uses the short factors, a longer one the long ones (both rotating half of each head)', async () => {
    const [s, l] = [[1, 1.5, 2, 3], [2, 3, 5, 9]];
    const both = await longrope(s, l);
    const shortOnly = await longrope(s, s);
    const longOnly = await longrope(l, l);
    const row = (JSON.parse(readFileSync(join(root, 'tiny-phi3', 'batch.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0];
    const run = async (d: OrtDecoder, n: number): Promise<Float32Array> => (await d.forward([row.slice(0, n)], [row.slice(0, n).map((_, t) => t)], [row.slice(0, n).map(() => 1)])).logits;
    const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    expect(maxDiff(await run(both, 8), await run(shortOnly, 8))).toBe(0);
    expect(maxDiff(await run(both, 9), await run(longOnly, 9))).toBe(0);
    expect(maxDiff(await run(both, 9), await run(shortOnly, 9))).toBeGreaterThan(1e-3);
  });
});

describe('external data (the layout past 2 GB)', () => {
  it('weights in model.onnx_data beside the graph give the same logits as the weights inside it', async () => {
    const fx = join(root, 'tiny-qwen3');
    const src = await openFolderSource(nodeFolder(join(fx, 'model')), { adapter: nodeFolder(join(fx, 'adapter_final')) });
    const collect = (): { sink: ByteSink; bytes(): Uint8Array } => {
      const parts: Uint8Array[] = [];
      return { sink: { write: async (c) => void parts.push(c.slice()) }, bytes: () => Uint8Array.from(parts.flatMap((p) => [...p])) };
    };
    const opts = { opsets: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }], irVersion: IR_VERSION, producer: 'test' };
    const inside = collect();
    expect((await writeModel(buildDecoderGraph(src, 'int4'), inside.sink, opts)).externalBytes).toBe(0);
    const graph = collect();
    const data = collect();
    const w = await writeModel(buildDecoderGraph(src, 'int4'), graph.sink, { ...opts, forceExternal: true, external: { location: 'model_q4.onnx_data', sink: async () => data.sink } });
    expect(w.externalBytes).toBe(data.bytes().byteLength);
    expect(graph.bytes().byteLength).toBeLessThan(inside.bytes().byteLength / 5);
    const ids = [[5, 17, 42, 99, 3]];
    const pos = [[0, 1, 2, 3, 4]];
    const mask = [[1, 1, 1, 1, 1]];
    const a = await (await OrtDecoder.create(ort, inside.bytes(), src.spec)).forward(ids, pos, mask);
    const ext = await OrtDecoder.create(ort, graph.bytes(), src.spec, { externalData: [{ path: 'model_q4.onnx_data', data: data.bytes() }] });
    const b = await ext.forward(ids, pos, mask);
    expect(b.logits).toEqual(a.logits);
  });
});

describe('the export folder and bad input', () => {
  const fx = join(root, 'tiny-qwen2');
  it('Transformers.js layout; the CLI prints one JSON line; an adapter for another model is refused naming the tensor and leaves nothing', async () => {
    const out = join(tmp, 'cli-ok');
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => lines.push(s) > 0) as typeof process.stdout.write;
    try {
      expect(await cliExport('onnx', ['--format', 'onnx', '--model', join(fx, 'model'), '--adapter', join(fx, 'adapter_final'), '--quant', 'int4', '--out', out])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const line = JSON.parse(lines.join('')) as { format: string; quant: string; files: string[]; bytes: number };
    expect(line.format).toBe('onnx');
    expect(line.quant).toBe('int4');
    expect([...line.files].sort()).toEqual(['config.json', 'generation_config.json', 'onnx/model_q4.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    expect(line.bytes).toBe(line.files.reduce((s, f) => s + readFileSync(join(out, f)).byteLength, 0));
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['transformers.js_config']).toEqual({ dtype: 'q4' });
    expect(config.model_type).toBe('qwen2');
    const tok = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as { chat_template?: string };
    expect(tok.chat_template).toContain('<|im_start|>');

    const bad = join(tmp, 'cli-bad');
    const p = cliExport('onnx', ['--format', 'onnx', '--model', join(fx, 'model'), '--adapter', join(root, 'tiny-qwen3', 'adapter_final'), '--out', bad]);
    await expect(p).rejects.toThrow(/lora_B\.weight" has shape/);
    expect(existsSync(bad)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('partial'))).toEqual([]);

    // A folder that holds files is not written into.
    const full = join(tmp, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    await expect(cliExport('onnx', ['--format', 'onnx', '--model', join(fx, 'model'), '--out', full])).rejects.toThrow(/not empty/);
    expect(readdirSync(full)).toEqual(['keep.txt']);
  });
});
