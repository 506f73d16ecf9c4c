// "For the web (ONNX)" in the worker: the loaded model + the run's adapter exported as the
// Transformers.js folder inside a .zip (the one streaming zip, src/util/zip.ts: stored entries),
// then run with onnxruntime-web for "Check the export" and the exported side of "Try it".
//
// Memory: the zip's chunks are folded into Blobs as they are produced (one copy of the export, in
// the browser's Blob store; the page gets the Blob, not its bytes); the worker keeps the model file once more for onnxruntime-web (which
// copies it into its wasm heap when a session is created). The base is read from the weights the
// worker already holds, one tensor at a time.
import type * as Ort from 'onnxruntime-web';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../engine/lora/adapter';
import { memoryFolder, type ModelFolder } from '../engine/model/weights';
import type { ModelSpec } from '../engine/model/spec';
import type { OnnxBackend, OnnxCheckResult } from './protocol';
import type { BaseTensor, WeightSource } from '../engine/model/weight-source';
import { openMemorySource } from '../export/source';
import type { OnnxQuant } from '../export/onnx/decoder';
import { exportOnnx, ONNX_DTYPES } from '../export/onnx/export';
import { OrtDecoder } from '../export/onnx/ort-decoder';
import { BlobSink, type OutputFile } from '../util/byte-sink';
import { ZipWriter } from '../util/zip';

export class OnnxSessionError extends Error {
  override name = 'OnnxSessionError';
}

export interface OnnxZip {
  /** The .zip (Blobs of its chunks, folded every 64 MiB: BlobSink). */
  zip: Blob;
  files: string[];
  bytes: number;
  quant: OnnxQuant;
  /** Transformers.js's dtype of that quantization (ONNX_DTYPES). */
  dtype: string;
}

/** Loads onnxruntime-web with its wasm served by this app (copied into the build by Vite, no CDN). */
async function loadOrt(): Promise<typeof Ort> {
  const ort = await import('onnxruntime-web');
  const wasm = (await import('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url')).default;
  ort.env.wasm.wasmPaths = { wasm };
  ort.env.wasm.numThreads = 1;
  return ort;
}

export class OnnxBridge {
  private model: { bytes: Uint8Array; spec: ModelSpec } | null = null;
  private decoder: Promise<{ decoder: OrtDecoder; backend: string }> | null = null;
  private backends = ['webgpu', 'wasm'];

  /** Whether an export of this session can run (the page offers the side and the check). */
  get ready(): boolean {
    return this.model !== null;
  }

  /** Forgets the export (a new model or run makes it stale). */
  reset(): void {
    this.model = null;
    const d = this.decoder;
    this.decoder = null;
    void d?.then((x) => x.decoder.session.release()).catch(() => undefined);
  }

  async export(
    spec: ModelSpec,
    weights: WeightSource | ReadonlyMap<string, BaseTensor>,
    folder: ModelFolder,
    adapter: { config: string; safetensors: Uint8Array } | null,
    quant: OnnxQuant,
    backend: OnnxBackend = 'auto',
  ): Promise<OnnxZip> {
    this.reset();
    this.backends = backend === 'wasm' ? ['wasm'] : ['webgpu', 'wasm'];
    const adapterFolder = adapter ? memoryFolder('adapter', { [ADAPTER_CONFIG_FILE]: adapter.config, [ADAPTER_WEIGHTS_FILE]: adapter.safetensors }) : null;
    const src = await openMemorySource(spec, weights, { name: folder.name, adapter: adapterFolder });
    const sink = new BlobSink();
    // A copy of each chunk: it may view tensors the worker keeps (the base weights).
    const zip = new ZipWriter({ write: (data) => sink.write(data.slice()) });
    let modelParts: Uint8Array[] | null = null;
    const result = await exportOnnx(src, folder, quant, {
      async create(path: string): Promise<OutputFile> {
        const entry = await zip.create(path);
        const keep: Uint8Array[] | null = /^onnx\/model[^/]*\.onnx$/.test(path) ? (modelParts = [] as Uint8Array[]) : null;
        return {
          async write(chunk: Uint8Array) {
            keep?.push(chunk.slice());
            await entry.write(chunk);
          },
          close: () => entry.close(),
        };
      },
    });
    await zip.finish();
    const external = result.files.some((f) => f.path.endsWith('.onnx_data'));
    if (modelParts && !external) {
      const parts: Uint8Array[] = modelParts;
      const bytes = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
      let o = 0;
      for (const p of parts) {
        bytes.set(p, o);
        o += p.byteLength;
      }
      this.model = { bytes, spec };
    }
    return { zip: sink.blob('application/zip'), files: result.files.map((f) => f.path), bytes: sink.size, quant, dtype: ONNX_DTYPES[quant].dtype };
  }

  /** The exported model in onnxruntime-web: WebGPU where the browser has it, wasm otherwise. */
  async session(): Promise<{ decoder: OrtDecoder; backend: string }> {
    const model = this.model;
    if (!model) throw new OnnxSessionError('export the model for the web first (a model past 2 GB is not run in the page)');
    this.decoder ??= (async () => {
      const ort = await loadOrt();
      for (const backend of this.backends) {
        try {
          return { decoder: await OrtDecoder.create(ort, model.bytes, model.spec, { executionProviders: [backend] }), backend };
        } catch (e) {
          if (backend === this.backends.at(-1)) throw e;
        }
      }
      throw new OnnxSessionError('no onnxruntime-web backend');
    })();
    try {
      return await this.decoder;
    } catch (e) {
      this.decoder = null;
      throw e;
    }
  }

  /**
   * "Check the export": `prompt` (token ids) greedy through the engine (`engineGreedy`: ids, and the
   * prompt's logits [n, V] from the training forward) and through onnxruntime-web.
   */
  async check(
    prompt: number[],
    maxNewTokens: number,
    stopIds: number[],
    engine: { greedy(prompt: number[], maxNewTokens: number): Promise<number[]>; promptLogits(prompt: number[]): Promise<Float32Array> },
    decode: (ids: number[]) => string,
  ): Promise<OnnxCheckResult> {
    const { decoder, backend } = await this.session();
    const ours = await decoder.generate(prompt, { temperature: 0, topP: 1, maxNewTokens, stopIds, seed: 0 });
    const engineIds = await engine.greedy(prompt, maxNewTokens);
    const want = await engine.promptLogits(prompt);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i] - ours.promptLogits[i]));
    if (ours.promptLogits.length !== want.length) throw new OnnxSessionError(`prompt logits: ${ours.promptLogits.length} values from onnxruntime-web, ${want.length} from the engine`);
    return {
      backend,
      promptTokens: prompt.length,
      engine: { ids: engineIds, text: decode(engineIds) },
      onnx: { ids: ours.ids, text: decode(ours.ids) },
      agree: engineIds.length === ours.ids.length && engineIds.every((id, i) => id === ours.ids[i]),
      maxPromptLogitDiff: diff,
    };
  }
}
