// One generation: the prompt into the decoder's cache, then one token at a time until a stop
// token (end of turn / EOS), the token budget, or the end of the decoder's context.
import { rng } from '../kernels/random';
import type { Decoder } from './decoder';
import { sampleToken, type SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Token ids that end the reply (not included in it): EOS and the template's end of turn. */
  stopIds: readonly number[];
  /** Seed of the sampling RNG (unused at temperature 0). */
  seed: number;
}

/** Why a generation ended. */
export type StopReason = 'stop' | 'length' | 'context';

export interface GenerateStep {
  /** The token chosen from `logits` (a stop token too, which ends the generation). */
  id: number;
  /** The logits (V) the token was chosen from. */
  logits: Float32Array;
  /** Set on the last step. */
  done: StopReason | null;
}

export class Generation {
  /** The reply's tokens so far (a stop token is not included). */
  readonly ids: number[] = [];
  private pending: number[];
  private reason: StopReason | null = null;
  private readonly random: () => number;

  constructor(
    private readonly decoder: Decoder,
    prompt: readonly number[],
    private readonly opts: GenerateOptions,
  ) {
    if (prompt.length === 0) throw new Error('the prompt has no tokens');
    if (!(opts.maxNewTokens >= 1)) throw new Error(`max new tokens must be at least 1, got ${opts.maxNewTokens}`);
    if (prompt.length >= decoder.maxContext) {
      throw new Error(`the prompt has ${prompt.length} tokens; the decoder's context holds ${decoder.maxContext}, with room for at least one more`);
    }
    this.pending = [...prompt];
    this.random = rng(opts.seed);
    decoder.reset();
  }

  get done(): StopReason | null {
    return this.reason;
  }

  /** Feeds what is pending and picks the next token. Throws when already done. */
  async step(): Promise<GenerateStep> {
    if (this.reason) throw new Error(`the generation has ended (${this.reason})`);
    const logits = await this.decoder.feed(this.pending);
    const id = sampleToken(logits, this.opts, this.random);
    if (this.opts.stopIds.includes(id)) this.reason = 'stop';
    else {
      this.ids.push(id);
      this.pending = [id];
      if (this.ids.length >= this.opts.maxNewTokens) this.reason = 'length';
      else if (this.decoder.length >= this.decoder.maxContext) this.reason = 'context';
    }
    return { id, logits, done: this.reason };
  }

  /** Runs to the end; `onStep` sees every step. */
  async run(onStep?: (s: GenerateStep) => void): Promise<{ ids: number[]; reason: StopReason }> {
    while (!this.reason) {
      const s = await this.step();
      onStep?.(s);
    }
    return { ids: this.ids, reason: this.reason };
  }
}
