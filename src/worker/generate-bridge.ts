// "Try it" in the worker: the prompt through the model's chat template, then the base model and
// the adapter decoding side by side (src/engine/generate), one token of each in turn, streamed.
//
// GPU memory: the decoders need the frozen weights and, for the adapter, the flat LoRA buffer.
// When the trainer shares its own (TrainerGpuShare below) nothing is copied and the adapter is
// the live one. Otherwise this bridge uploads its own copy of the base weights and refreshes a
// LoRA buffer from trainer.exportAdapter() at each request.
import type { ModelTokenizer } from '../data';
import { RecordError } from '../data/errors';
import type { Gpu } from '../gpu/gpu';
import { Decoder, decoderContextLimit, type DecoderLora } from '../engine/generate/decoder';
import { Generation } from '../engine/generate/generate';
import { loraLayout, packLora, type LoraLayout } from '../engine/lora/layout';
import { destroyModelWeights, uploadModelWeights, type ModelWeightsGpu } from '../engine/model/gpu-weights';
import type { EngineModel, TrainerLike } from './engine-bridge';
import type { GenerateOutput, GenerateParams, GenerateResult, GenerateSide, TrainSettings } from './protocol';

/** Longest reply a request may ask for. */
export const MAX_NEW_TOKENS = 2048;

export class GenerateError extends Error {
  override name = 'GenerateError';
}

/** What a trainer may lend the generator: its frozen weights and live LoRA parameters. */
export interface TrainerGpuShare {
  weights: ModelWeightsGpu;
  layout: LoraLayout;
  params: GPUBuffer;
}

/** A TrainerLike that lends its GPU buffers (engine-bridge's createTrainer may add `gpuShare`). */
function shareOf(trainer: TrainerLike | null): TrainerGpuShare | null {
  return trainer?.gpuShare?.() ?? null;
}

/** The adapter of the session's run, when there is one. */
export interface AdapterRun {
  trainer: TrainerLike;
  settings: TrainSettings;
}

export type OnGenerated = (side: GenerateSide, text: string, tokens: number, done: boolean) => void;

/** Token ids that end a reply: EOS (config and tokenizer) and the template's end-of-turn tokens. */
export function stopTokenIds(tokenizer: ModelTokenizer, eos: number | number[] | null): number[] {
  const ids = new Set<number>();
  for (const e of Array.isArray(eos) ? eos : eos === null ? [] : [eos]) ids.add(e);
  if (tokenizer.eosId !== null) ids.add(tokenizer.eosId);
  for (const t of tokenizer.endOfTurn) {
    const id = tokenizer.tokenizer.token_to_id(t);
    if (id !== undefined) ids.add(id);
  }
  return [...ids];
}

/** The prompt as the model sees it: one user turn in its chat template, then the assistant's cue. */
export function promptIds(tokenizer: ModelTokenizer, prompt: string): number[] {
  try {
    return tokenizer.withBos(tokenizer.encode(tokenizer.template.render([{ role: 'user', content: prompt }], true)));
  } catch (e) {
    // A token past the model's vocab_size in the prompt (or a template failure): refused before the GPU.
    if (e instanceof RecordError) throw new GenerateError(`the prompt: ${e.message}`);
    throw e;
  }
}

export function checkGenerateParams(p: GenerateParams): void {
  const bad: string[] = [];
  if (!p.prompt.trim()) bad.push('the prompt is empty');
  if (!(p.temperature >= 0 && p.temperature <= 10)) bad.push(`temperature ${p.temperature} is outside 0..10`);
  if (!(p.topP > 0 && p.topP <= 1)) bad.push(`top-p ${p.topP} is outside (0, 1]`);
  if (!(Number.isInteger(p.maxNewTokens) && p.maxNewTokens >= 1 && p.maxNewTokens <= MAX_NEW_TOKENS)) {
    bad.push(`max new tokens ${p.maxNewTokens} is not a whole number in 1..${MAX_NEW_TOKENS}`);
  }
  if (!Number.isInteger(p.seed)) bad.push(`seed ${p.seed} is not a whole number`);
  if (bad.length) throw new GenerateError(bad.join('; '));
}

/** Decoding state of one session: lives as long as the model and the trainer it borrows from. */
export class GenerateBridge {
  private ownWeights: ModelWeightsGpu | null = null;
  private ownLora: { layout: LoraLayout; params: GPUBuffer } | null = null;
  private base: Decoder | null = null;
  private adapter: Decoder | null = null;
  private running = false;

  constructor(
    private readonly gpu: Gpu,
    private readonly model: EngineModel,
    private readonly tokenizer: ModelTokenizer,
  ) {}

  get busy(): boolean {
    return this.running;
  }

  private async weights(share: TrainerGpuShare | null): Promise<ModelWeightsGpu> {
    if (share) return share.weights;
    // Streamed again from the session's weight source (the host keeps no copy of the model).
    this.ownWeights ??= await uploadModelWeights(this.gpu, this.model.spec, this.model.weights);
    return this.ownWeights;
  }

  /** The adapter's LoRA buffer: the trainer's, or a copy of its current parameters. */
  private async lora(run: AdapterRun, share: TrainerGpuShare | null): Promise<DecoderLora> {
    if (share) return { layout: share.layout, params: share.params };
    const layout = loraLayout(this.model.spec, run.settings.lora);
    if (!this.ownLora || this.ownLora.layout.totalFloats !== layout.totalFloats) {
      if (this.ownLora) this.gpu.destroyBuffer(this.ownLora.params);
      this.ownLora = { layout, params: this.gpu.createBuffer(layout.totalFloats * 4, 'generate.lora') };
    }
    this.gpu.write(this.ownLora.params, packLora(layout, await run.trainer.exportAdapter()));
    return this.ownLora;
  }

  /** A decoder for `weights` (+ `lora`) holding at least `context` tokens, reused when it can be. */
  private async decoder(current: Decoder | null, weights: ModelWeightsGpu, lora: DecoderLora | null, context: number): Promise<Decoder> {
    if (current && current.maxContext >= context && current.usesWeights(weights) && current.usesLora(lora)) return current;
    current?.destroy();
    const maxPos = decoderContextLimit(this.model.spec);
    // Room for longer prompts next time: whole multiples of 256 tokens, within the model's limit.
    const maxContext = Math.min(maxPos, Math.ceil(context / 256) * 256);
    return Decoder.create(this.gpu, this.model.spec, weights, lora, { maxContext });
  }

  async generate(params: GenerateParams, run: AdapterRun | null, emit: OnGenerated, cancelled: () => boolean): Promise<GenerateResult> {
    checkGenerateParams(params);
    if (this.running) throw new GenerateError('a generation is already running');
    this.running = true;
    try {
      const { spec } = this.model;
      const prompt = promptIds(this.tokenizer, params.prompt);
      const maxPos = decoderContextLimit(spec);
      if (prompt.length === 0) throw new GenerateError('the prompt has no tokens');
      if (prompt.length >= maxPos) throw new GenerateError(`the prompt has ${prompt.length} tokens; this model reads at most ${maxPos}, with room for the reply`);
      const context = Math.min(maxPos, prompt.length + params.maxNewTokens);
      const share = run ? shareOf(run.trainer) : null;
      const weights = await this.weights(share);
      this.base = await this.decoder(this.base, weights, null, context);
      if (run) this.adapter = await this.decoder(this.adapter, weights, await this.lora(run, share), context);

      const options = { temperature: params.temperature, topP: params.topP, maxNewTokens: params.maxNewTokens, seed: params.seed, stopIds: stopTokenIds(this.tokenizer, spec.eosTokenId) };
      const sides: Array<{ side: GenerateSide; gen: Generation; ms: number; firstMs: number | null; out: GenerateOutput | null }> = [
        { side: 'base', gen: new Generation(this.base, prompt, options), ms: 0, firstMs: null, out: null },
      ];
      if (run && this.adapter) sides.push({ side: 'adapter', gen: new Generation(this.adapter, prompt, options), ms: 0, firstMs: null, out: null });

      const finish = (s: (typeof sides)[number], reason: GenerateOutput['reason']): void => {
        const n = s.gen.ids.length;
        const text = this.tokenizer.decode(s.gen.ids, true);
        const after = s.firstMs === null ? 0 : s.ms - s.firstMs;
        s.out = { text, tokens: n, reason, ms: s.ms, tokensPerSec: n > 1 && after > 0 ? ((n - 1) * 1000) / after : null };
        emit(s.side, text, n, true);
      };
      // One token of each side in turn, so both outputs grow together.
      while (sides.some((s) => !s.out)) {
        for (const s of sides) {
          if (s.out) continue;
          if (cancelled()) {
            finish(s, 'cancelled');
            continue;
          }
          const t0 = performance.now();
          const step = await s.gen.step();
          s.ms += performance.now() - t0;
          s.firstMs ??= s.ms;
          if (step.done) finish(s, step.done);
          else emit(s.side, this.tokenizer.decode(s.gen.ids, true), s.gen.ids.length, false);
        }
      }
      return { promptTokens: prompt.length, base: sides[0].out!, adapter: sides[1]?.out ?? null };
    } finally {
      this.running = false;
    }
  }

  destroy(): void {
    this.base?.destroy();
    this.adapter?.destroy();
    this.base = null;
    this.adapter = null;
    if (this.ownLora) this.gpu.destroyBuffer(this.ownLora.params);
    this.ownLora = null;
    if (this.ownWeights) destroyModelWeights(this.gpu, this.ownWeights);
    this.ownWeights = null;
  }
}
