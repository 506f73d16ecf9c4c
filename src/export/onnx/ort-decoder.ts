// Runs an exported decoder (decoder.ts's interface) in onnxruntime-web: a forward over a batch
// with or without the KV cache, and decoding of one prompt (greedy or sampled, as the engine). The ort module is passed in, so
// the same code runs in Node (tests: wasm backend) and in the page (WebGPU or wasm).
import type * as Ort from 'onnxruntime-web';
import type { GenerateOptions, StopReason } from '../../engine/generate/generate';
import { sampleToken } from '../../engine/generate/sampling';
import { rng } from '../../engine/kernels/random';
import type { ModelFamily } from '../../engine/model/arch';
import { positionIdBase } from './decoder';

/** What the graph's shapes need: layers, kv heads, head dim, vocabulary, and the model type (its first position id). */
export interface DecoderDims {
  modelType: ModelFamily;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
}

export type KvCache = Record<string, Ort.Tensor>;

const i64 = (ort: typeof Ort, rows: readonly (readonly number[])[]): Ort.Tensor =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat().map((v) => BigInt(v))), [rows.length, rows[0]?.length ?? 0]);

export class OrtDecoder {
  constructor(
    private readonly ort: typeof Ort,
    readonly session: Ort.InferenceSession,
    readonly dims: DecoderDims,
  ) {}

  static async create(ort: typeof Ort, model: Uint8Array, dims: DecoderDims, options: Ort.InferenceSession.SessionOptions = {}): Promise<OrtDecoder> {
    return new OrtDecoder(ort, await ort.InferenceSession.create(model, options), dims);
  }

  /** An empty cache for `batch` rows (past length 0). */
  emptyCache(batch: number): KvCache {
    const c: KvCache = {};
    for (let l = 0; l < this.dims.numLayers; l++) {
      for (const kv of ['key', 'value']) {
        c[`past_key_values.${l}.${kv}`] = new this.ort.Tensor('float32', new Float32Array(0), [batch, this.dims.numKvHeads, 0, this.dims.headDim]);
      }
    }
    return c;
  }

  /**
   * One forward: `ids` and `positions` [B, S] (0-based, as the engine counts them; fed from
   * positionIdBase as Transformers.js feeds them), `mask` [B, past + S]; returns logits [B, S, V]
   * and the new cache.
   */
  async forward(ids: number[][], positions: number[][], mask: number[][], past?: KvCache): Promise<{ logits: Float32Array; cache: KvCache }> {
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: i64(this.ort, ids),
      position_ids: i64(this.ort, positions.map((row) => row.map((p) => p + positionIdBase(this.dims.modelType)))),
      attention_mask: i64(this.ort, mask),
      ...(past ?? this.emptyCache(ids.length)),
    };
    const out = await this.session.run(feeds);
    const cache: KvCache = {};
    for (let l = 0; l < this.dims.numLayers; l++) {
      for (const kv of ['key', 'value']) cache[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`];
    }
    return { logits: out.logits.data as Float32Array, cache };
  }

  /**
   * Decodes one prompt as the engine's Generation does (src/engine/generate: the same sampling
   * and seeded RNG; temperature 0 is greedy): the prompt's logits first (their last row picks the
   * first token), then one token at a time with the cache, until a stop id (not included),
   * `maxNewTokens`, or `cancelled()`. `onToken` sees the reply so far and each step's logits.
   */
  async generate(
    prompt: readonly number[],
    opts: GenerateOptions,
    onToken?: (ids: readonly number[], logits: Float32Array) => void,
    cancelled: () => boolean = () => false,
  ): Promise<{ ids: number[]; promptLogits: Float32Array; reason: StopReason | 'cancelled' }> {
    const V = this.dims.vocabSize;
    const n = prompt.length;
    const random = rng(opts.seed);
    let { logits, cache } = await this.forward([[...prompt]], [prompt.map((_, i) => i)], [prompt.map(() => 1)]);
    const promptLogits = logits;
    let last = logits.subarray((n - 1) * V, n * V);
    const ids: number[] = [];
    for (;;) {
      if (cancelled()) return { ids, promptLogits, reason: 'cancelled' };
      const id = sampleToken(last, opts, random);
      if (opts.stopIds.includes(id)) return { ids, promptLogits, reason: 'stop' };
      ids.push(id);
      onToken?.(ids, last);
      if (ids.length >= opts.maxNewTokens) return { ids, promptLogits, reason: 'length' };
      const len = n + ids.length;
      ({ logits, cache } = await this.forward([[id]], [[len - 1]], [Array.from({ length: len }, () => 1)], cache));
      last = logits.subarray(0, V);
    }
  }
}
