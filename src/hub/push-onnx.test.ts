// The page's ONNX export pushed beside the adapter, end to end in Node: the worker's export (the
// streamed .zip of onnx-bridge.ts) split into its files as slices (storedZipFiles), pushed under
// onnx-fp32/ with the model card to the stand-in Hub, then loaded from that Hub by Transformers.js
// with the lines the card gives (and not with its `subfolder` option alone, which reads
// config.json from the repository's root).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFolder } from '../engine/model/weights';
import { DEFAULT_TRAIN } from '../engine/train/types';
import { nodeFolder } from '../io/node-files';
import { storedZipFiles } from '../io/untrusted/zip';
import { modelCard } from '../state/slices/export-card';
import { OnnxBridge } from '../worker/onnx-bridge';
import { pushToHub } from './push';
import { startStandInHub, type StandInHub } from './stand-in-server-testing';

const fx = resolve(process.cwd(), '../shared/fixtures/reference/tiny-llama');
const TOKEN = 'hf_onnxPushToken';
const FOLDER = 'onnx-fp32'; // the export of an f32 base, in Transformers.js's dtype name

const cache = mkdtempSync(join(tmpdir(), 'onnx-push-cache-'));
env.allowLocalModels = false;
// In Node, Transformers.js hands onnxruntime a file path: the Hub's files land in this cache.
env.cacheDir = cache;

let hub: StandInHub;
beforeAll(async () => {
  hub = await startStandInHub({ models: {}, api: { users: { [TOKEN]: { name: 'alice' } } } });
});
afterAll(async () => {
  await hub.close();
  rmSync(cache, { recursive: true, force: true });
});

describe('an ONNX export pushed as an extra folder', () => {
  it('arrives byte for byte under onnx-fp32/, its model through LFS, and Transformers.js loads it from the Hub as the card says', async () => {
    const model = nodeFolder(join(fx, 'model'));
    const { spec, weights } = await loadModelFolder(model);
    const adapter = {
      config: readFileSync(join(fx, 'adapter_final/adapter_config.json'), 'utf8'),
      safetensors: new Uint8Array(readFileSync(join(fx, 'adapter_final/adapter_model.safetensors'))),
    };
    const exported = await new OnnxBridge().export(spec, weights, model, adapter, 'none');
    expect(exported.dtype).toBe('fp32');
    const zip = exported.zip;
    const parts = await storedZipFiles(zip, 'lora-model-onnx.zip');
    // fflate's own reader (a streamed zip: sizes in data descriptors) as the reference.
    const inZip = Object.entries(unzipSync(new Uint8Array(await zip.arrayBuffer()))).map(([name, data]) => ({ name, data }));
    expect(parts.map((p) => p.name)).toEqual(inZip.map((e) => e.name));
    expect(parts.map((p) => p.name)).toContain('onnx/model.onnx');

    let card = '';
    await pushToHub({
      hubUrl: hub.url,
      token: TOKEN,
      trusted: [hub.url],
      repo: 'web-lora',
      private: false,
      files: (repoId) => {
        card = modelCard({
          model: { name: 'tiny-llama', hubId: null, randomWeights: false, quant: 'none' },
          settings: { lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj'], useRslora: false }, train: DEFAULT_TRAIN, batchSize: 1, maxLength: 64, checkpointEvery: 0, validationExamples: 0 },
          dataset: null,
          result: null,
          date: new Date('2026-12-02T00:00:00Z'),
          repoId,
          extras: [{ folder: FOLDER, what: { kind: 'onnx', dtype: exported.dtype } }],
        });
        return [{ path: 'README.md', content: new Blob([card]) }, ...parts.map((p) => ({ path: `${FOLDER}/${p.name}`, content: p.blob }))];
      },
      commitTitle: 'Upload',
      signal: new AbortController().signal,
      onProgress: () => undefined,
    });
    const repo = hub.api.repos.get('alice/web-lora')!;
    for (const e of inZip) expect(Buffer.compare(Buffer.from(repo.files.get(`${FOLDER}/${e.name}`)!), Buffer.from(e.data)), e.name).toBe(0);
    const lfs = hub.api.apiLog.filter((r) => r.route === 'lfs-upload').length;
    expect(lfs).toBe(1); // onnx/model.onnx; the JSON files go in the commit

    // Transformers.js's subfolder option alone finds the .onnx but reads config.json at the root.
    env.remoteHost = `${hub.url}/`;
    await expect(AutoModelForCausalLM.from_pretrained('alice/web-lora', { subfolder: `${FOLDER}/onnx`, dtype: 'fp32' })).rejects.toThrow(/config\.json/);

    const template = `{model}/resolve/{revision}/${FOLDER}/`;
    expect(card).toContain(`env.remotePathTemplate = '${template}';`);
    expect(card).toContain("AutoModelForCausalLM.from_pretrained('alice/web-lora', { dtype: 'fp32' })");
    env.remotePathTemplate = template;
    try {
      const tokenizer = await AutoTokenizer.from_pretrained('alice/web-lora');
      const lm = await AutoModelForCausalLM.from_pretrained('alice/web-lora', { dtype: 'fp32' });
      const inputs = tokenizer('The capital of France is');
      const prompt = (inputs.input_ids.tolist() as bigint[][])[0].length;
      const out = (await lm.generate({ ...inputs, max_new_tokens: 4, do_sample: false })) as { tolist(): bigint[][] };
      expect(out.tolist()[0].length).toBeGreaterThan(prompt);
    } finally {
      env.remotePathTemplate = '{model}/resolve/{revision}/';
    }
    const served = hub.log.filter((r) => r.model === 'alice/web-lora' && r.status === 200).map((r) => r.file);
    expect(served).toEqual(expect.arrayContaining([`${FOLDER}/config.json`, `${FOLDER}/tokenizer.json`, `${FOLDER}/onnx/model.onnx`]));
  }, 300_000);
});
