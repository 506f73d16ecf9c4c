// The LoRA trainer: owns every GPU buffer of a run, allocated once in create(). A step writes the
// batch with queue.writeBuffer into preallocated buffers, replays recorded programs (one submit
// per micro-batch, one for the optimizer, queued back to back) and maps one small buffer back:
// the losses, the gradient norm and the divergence guard's flags (src/engine/kernels/guard.ts).
// The optimizer does not wait for the loss: the guard decides on the GPU whether the update is
// applied, and a flagged step throws DivergenceError with the state as it was before the step.
// Nothing is allocated inside a step once each batch shape has been seen, and the next step's
// commands are encoded while the GPU runs this one.
import { GpuError } from '../../gpu/errors';
import type { Gpu, KernelProfile, Program } from '../../gpu/gpu';
import { adamwStepParams, globalNormSquared, globalNormSquaredPartials } from '../kernels/optimizer';
import { defaultGuardBounds, guardedAdamw, guardWords, lossWord, readHealth, type GuardBounds, type StepHealth } from '../kernels/guard';
import { DivergenceError } from './divergence';
import { initLoraTensors } from '../lora/adapter';
import { loraLayout, packLora, unpackLora, type LoraLayout } from '../lora/layout';
import { destroyModelWeights, stageModelWeights, type BaseQuant, type BaseTensor, type ModelWeightsGpu } from '../model/gpu-weights';
import type { WeightSource } from '../model/weight-source';
import { GpuModel } from '../model/model';
import type { HostTensor, ModelSpec } from '../model/spec';
import { checkEngineSupports, engineContextLimit } from '../model/arch';
import { ModelConfigError } from '../model/config';
import { fillRowPositions, positionsProblem } from '../kernels/positions';
import { learningRate } from './schedule';
import { METRIC_WORDS, Objective, type StepMetrics } from './objective';
import { type Batch, type LoraHyper, type StepResult, type TrainHyper } from './types';

export interface TrainerOptions {
  /** Largest micro-batch rows and sequence length the run will see (buffers are sized for them). */
  maxBatch: number;
  maxSeq: number;
  /** Start from an existing PEFT adapter (PEFT keys → tensors) instead of PEFT's fresh init. */
  initAdapter?: Map<string, HostTensor>;
  /** Storage of the frozen base matrices on the GPU (default none = f32). */
  quant?: BaseQuant;
  /** Rows per LM-head chunk (default: logitsChunkRows). Tests force small chunks. */
  logitsChunkRows?: number;
  /** The divergence guard's bounds (default: defaultGuardBounds(vocab)). */
  guard?: Partial<GuardBounds>;
  /**
   * 'ahead' (default): create() records the maxBatch×maxSeq programs and compiles their pipelines
   * in parallel while the weights upload, so the first step compiles nothing. 'first-use': each
   * pipeline compiles synchronously when a step first runs it (the benchmark's comparison).
   */
  compile?: 'ahead' | 'first-use';
}

/** Everything needed to continue a run exactly where it stopped. */
export interface TrainerState {
  step: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** Shifted targets: position t predicts labels[t+1]; the last position of each row is ignored. */
export function shiftLabels(batch: Batch, out: Int32Array): number {
  let counted = 0;
  const { B, T, labels } = batch;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const y = t + 1 < T ? labels[b * T + t + 1] : -100;
      out[b * T + t] = y;
      if (y !== -100) counted++;
    }
  }
  return counted;
}

export class Trainer {
  private programs = new Map<string, { train: Program; evalLoss: Program; forward: Program }>();
  /** The next step's first micro-batch, encoded while the GPU ran the previous one (see accumulate). */
  private encodedAhead: { B: number; T: number; commands: GPUCommandBuffer } | null = null;
  /** Steps whose first micro-batch was encoded ahead (for tests). */
  stepsEncodedAhead = 0;
  private optimizer: Program;
  private readonly targets: Int32Array;
  /** Positions 0..T-1 per row, written for a batch without its own (one example per row). */
  private readonly rowPositions: Int32Array;
  private readonly seedWord = new Uint32Array(1);
  private readonly readback: GPUBuffer;
  /**
   * The step's result words (guard.ts): flags, max |param|, gradient norm², one loss per
   * micro-batch; then the objective's METRIC_WORDS (from word guardWords(slotCount)).
   */
  private readonly result: GPUBuffer;
  /** The loss seam: SFT or a preference method (objective.ts). */
  readonly objective: Objective;
  private readonly slotCount: number;
  readonly guardBounds: GuardBounds;
  private readonly owned: GPUBuffer[];
  private readonly m: GPUBuffer;
  private readonly v: GPUBuffer;
  private readonly normSq: GPUBuffer;
  private readonly stepParams: GPUBuffer;
  private readonly n: number;
  /** Optimizer steps taken so far. */
  step = 0;

  private constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    readonly lora: LoraHyper,
    readonly hyper: TrainHyper,
    readonly layout: LoraLayout,
    private readonly weights: ModelWeightsGpu,
    readonly model: GpuModel,
    private readonly options: TrainerOptions,
    owned: GPUBuffer[],
  ) {
    this.n = layout.totalFloats;
    this.targets = new Int32Array(options.maxBatch * options.maxSeq);
    this.rowPositions = new Int32Array(options.maxBatch * options.maxSeq);
    const make = (bytes: number, label: string): GPUBuffer => {
      const b = gpu.createBuffer(bytes, label);
      owned.push(b);
      return b;
    };
    this.m = make(this.n * 4, 'adam.m');
    this.v = make(this.n * 4, 'adam.v');
    this.normSq = make(4, 'gradNormSq');
    this.stepParams = make(16, 'stepParams');
    const partials = make(globalNormSquaredPartials(this.n) * 4, 'normPartials');
    this.slotCount = Math.max(1, hyper.gradAccum);
    this.objective = new Objective(gpu, model, hyper.method ?? 'sft', hyper.beta ?? 0.1, options.maxBatch, options.maxBatch * options.maxSeq, owned);
    const bytes = (guardWords(this.slotCount) + METRIC_WORDS) * 4;
    this.result = make(bytes, 'stepResult');
    this.readback = gpu.allocate({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.owned = owned;
    this.guardBounds = { ...defaultGuardBounds(spec.vocabSize), ...options.guard };

    const rec = gpu.recorder();
    globalNormSquared(rec, this.normSq, partials, model.grads, this.n);
    const state = { params: model.params, grads: model.grads, m: this.m, v: this.v, normSq: this.normSq, stepParams: this.stepParams, result: this.result };
    guardedAdamw(rec, state, this.n, this.slotCount, hyper, this.guardBounds);
    this.optimizer = rec.finish();
  }

  static async create(
    gpu: Gpu,
    /**
     * Base weights, streamed to the GPU tensor by tensor (src/engine/model/weight-source.ts): a
     * source, or tensors in memory (f32, or matrices already quantized, kept as they are).
     */
    model: { spec: ModelSpec; weights: WeightSource | ReadonlyMap<string, BaseTensor> },
    lora: LoraHyper,
    hyper: TrainHyper,
    options: TrainerOptions,
  ): Promise<Trainer> {
    const { spec } = model;
    checkEngineSupports(spec, 'training', (msg) => new ModelConfigError(msg));
    const limit = engineContextLimit(spec);
    if (options.maxSeq > limit.tokens) {
      throw new GpuError(`sequences of ${options.maxSeq} tokens exceed ${limit.why}; set the maximum length to ${limit.tokens} or less`);
    }
    const layout = loraLayout(spec, lora);
    return gpu.checked(async () => {
      const owned: GPUBuffer[] = [];
      // The weights' buffers first, filled last: the step's programs are recorded against them
      // and their pipelines compile while the upload runs.
      const { weights, upload } = stageModelWeights(gpu, spec, model.weights, options.quant ?? 'none');
      // A fresh adapter gets PEFT's initialisation: A ~ U(±1/sqrt(in_features)), B = 0.
      const flat = packLora(layout, options.initAdapter ?? initLoraTensors(spec, lora, hyper.seed));
      const params = gpu.upload(flat, 'lora.params');
      const grads = gpu.createBuffer(layout.totalFloats * 4, 'lora.grads');
      const dropoutSeed = gpu.createBuffer(4, 'dropoutSeed');
      const lossScale = gpu.createBuffer(8, 'lossScale');
      const loss = gpu.createBuffer(4, 'loss');
      owned.push(params, grads, dropoutSeed, lossScale, loss);
      const gm = new GpuModel(gpu, spec, weights, layout, params, grads, dropoutSeed, lossScale, loss, {
        maxB: options.maxBatch,
        maxT: options.maxSeq,
        checkpointing: hyper.checkpointing,
        logitsChunkRows: options.logitsChunkRows,
      });
      const trainer = new Trainer(gpu, spec, lora, hyper, layout, weights, gm, options, owned);
      const programs = options.compile === 'first-use' ? [] : [trainer.optimizer, ...Object.values(trainer.programsFor(options.maxBatch, options.maxSeq))];
      // Both settle before either's error is thrown: destroy() must not free buffers the upload still writes.
      const [compiled, uploaded] = await Promise.allSettled([gpu.prepare(programs), upload()]);
      const failed = [compiled, uploaded].find((r) => r.status === 'rejected');
      if (failed) {
        trainer.destroy();
        throw failed.reason;
      }
      return trainer;
    });
  }

  private programsFor(B: number, T: number): { train: Program; evalLoss: Program; forward: Program } {
    const key = `${B}x${T}`;
    let p = this.programs.get(key);
    if (p) return p;
    // One step for every method: the objective's reference (preference), forward, and the one
    // backward path whose per-token gradient weights the objective writes.
    const train = this.gpu.recorder();
    this.objective.recordReference(train, B, T);
    this.model.recordForward(train, B, T, this.lora.dropout);
    this.model.recordBackward(train, B, T, this.lora.dropout, this.objective);
    const forward = this.gpu.recorder();
    this.model.recordForward(forward, B, T, 0);
    const evalLoss = this.gpu.recorder();
    this.objective.recordReference(evalLoss, B, T);
    this.model.recordForward(evalLoss, B, T, 0);
    this.objective.recordEval(evalLoss, B, T);
    p = { train: train.finish(), evalLoss: evalLoss.finish(), forward: forward.finish() };
    this.programs.set(key, p);
    return p;
  }

  /** Whether a batch has a shape whose programs are not recorded yet. */
  private newShape(batches: Batch[]): boolean {
    return batches.some((b) => !this.programs.has(`${b.B}x${b.T}`));
  }

  /**
   * Records the programs of the batches' new shapes and compiles the pipelines they add (another
   * tile or split for that many tokens) in parallel, so no step compiles one by one (unless the
   * run compiles at first use). Batches larger than the run's are left to writeInputs' error.
   */
  private async compileFor(batches: Batch[]): Promise<void> {
    if (this.options.compile === 'first-use') return;
    const fits = batches.filter((b) => b.B <= this.options.maxBatch && b.T <= this.options.maxSeq);
    await this.gpu.prepare(fits.flatMap((b) => Object.values(this.programsFor(b.B, b.T))));
  }

  /** Records (does not run) the programs of a B×T batch: all a step of that shape allocates. Benchmarks. */
  prepare(B: number, T: number): void {
    if (B > this.options.maxBatch || T > this.options.maxSeq) {
      throw new GpuError(`batch ${B}x${T} is larger than this run's ${this.options.maxBatch}x${this.options.maxSeq}`);
    }
    this.programsFor(B, T);
  }

  private writeInputs(batch: Batch): number {
    const { B, T } = batch;
    if (B > this.options.maxBatch || T > this.options.maxSeq) {
      throw new GpuError(`batch ${B}x${T} is larger than this run's ${this.options.maxBatch}x${this.options.maxSeq}`);
    }
    const N = B * T;
    const acts = this.model.acts;
    const V = this.spec.vocabSize;
    for (let i = 0; i < N; i++) {
      const id = batch.inputIds[i];
      if (id < 0 || id >= V) throw new GpuError(`token id ${id} at position ${i} is outside the vocabulary (${V})`);
    }
    const positions = batch.positions ?? fillRowPositions(this.rowPositions, B, T);
    if (batch.positions) {
      const problem = batch.positions.length < N ? `positions hold ${batch.positions.length} entries, not ${N}` : positionsProblem(batch.positions, B, T);
      if (problem) throw new GpuError(`batch ${B}x${T}: ${problem}`);
    }
    const counted = shiftLabels(batch, this.targets);
    // LongRoPE's factors follow the batch's longest example (max position id + 1), as in transformers.
    let maxPosition = 0;
    for (let i = 0; i < N; i++) maxPosition = Math.max(maxPosition, positions[i]);
    this.model.selectRope(maxPosition + 1);
    this.gpu.write(acts.ids, batch.inputIds.subarray(0, N));
    this.gpu.write(acts.mask, batch.attentionMask.subarray(0, N));
    this.gpu.write(acts.positions, positions.subarray(0, N));
    this.gpu.write(acts.targets, this.targets.subarray(0, N));
    return counted;
  }

  /** Dropout seed for micro-batch `micro` of optimizer step `step`: a fresh mask every time. */
  private dropoutSeed(step: number, micro: number): number {
    return (Math.imul(this.hyper.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35) + micro * 0x27d4eb2f) >>> 0;
  }

  /**
   * Queues forward and backward of each micro-batch, gradients summed (zeroed first), each loss
   * into its result word. Does not wait for anything.
   */
  private submitMicroBatches(micro: Batch[]): number {
    if (micro.length === 0) throw new GpuError('a step needs at least one micro-batch');
    if (micro.length > this.slotCount) throw new GpuError(`${micro.length} micro-batches exceed gradAccum=${this.hyper.gradAccum}`);
    this.objective.writeScales(micro);
    let tokens = 0;
    micro.forEach((batch, i) => {
      this.writeInputs(batch);
      tokens += batch.attentionMask.reduce((a, b) => a + b, 0);
      this.seedWord[0] = this.dropoutSeed(this.step, i);
      this.gpu.write(this.model.dropoutSeed, this.seedWord);
      const ahead = i === 0 ? this.takeEncodedAhead(batch.B, batch.T) : null;
      this.gpu.device.queue.submit([ahead ?? this.encodeMicroBatch(batch.B, batch.T, i)]);
    });
    // Encode the next step's first micro-batch now, while the GPU runs this step, assuming the same
    // shape (the usual case): recording a step's thousands of dispatches takes milliseconds of
    // JavaScript that would otherwise leave the GPU idle between steps. The batch itself is written
    // later with queue.writeBuffer, which the command buffer reads when it runs.
    const first = micro[0];
    this.encodedAhead = { B: first.B, T: first.T, commands: this.encodeMicroBatch(first.B, first.T, 0) };
    return tokens;
  }

  /**
   * Forward and backward of each micro-batch, gradients summed (zeroed first). Returns the mean
   * loss over all counted tokens of the micro-batches. Does not update the parameters (checks:
   * the gradients can be read before optimizerStep).
   */
  async accumulate(micro: Batch[]): Promise<{ loss: number; tokens: number; metrics: StepMetrics }> {
    if (this.newShape(micro)) await this.compileFor(micro);
    const tokens = this.submitMicroBatches(micro);
    const { loss, metrics } = await this.readResult();
    return { loss, tokens, metrics };
  }

  /** Micro-batch i of a step: zero the gradients and the result words (i = 0), forward + backward, loss into its word. */
  private encodeMicroBatch(B: number, T: number, i: number): GPUCommandBuffer {
    const enc = this.gpu.device.createCommandEncoder();
    if (i === 0) {
      enc.clearBuffer(this.model.grads);
      enc.clearBuffer(this.result);
      enc.clearBuffer(this.objective.metrics);
    }
    this.programsFor(B, T).train.encode(enc);
    enc.copyBufferToBuffer(this.model.loss, 0, this.result, 4 * lossWord(i), 4);
    enc.copyBufferToBuffer(this.objective.metrics, 0, this.result, 4 * guardWords(this.slotCount), 4 * METRIC_WORDS);
    return enc.finish();
  }

  /** The first micro-batch encoded during the previous step, if it has this shape (dropped either way). */
  private takeEncodedAhead(B: number, T: number): GPUCommandBuffer | null {
    const ahead = this.encodedAhead;
    this.encodedAhead = null;
    if (!ahead || ahead.B !== B || ahead.T !== T) return null;
    this.stepsEncodedAhead++;
    return ahead.commands;
  }

  /** Queues gradient norm, guard and AdamW (applied only if the guard finds the step healthy). */
  private submitOptimizer(): number {
    const lr = learningRate(this.hyper, this.step);
    this.gpu.write(this.stepParams, adamwStepParams(lr, this.hyper.beta1, this.hyper.beta2, this.step + 1));
    this.gpu.assertAlive();
    const enc = this.gpu.device.createCommandEncoder();
    this.optimizer.encode(enc);
    this.gpu.device.queue.submit([enc.finish()]);
    return lr;
  }

  /** The step's result read back; a flagged step throws DivergenceError (its update was not applied). */
  private finishStep(health: StepHealth, lr: number): number {
    if (health.flags !== 0) throw new DivergenceError(this.step + 1, health, this.guardBounds, this.hyper, lr);
    this.step++;
    return Math.sqrt(health.gradNormSq);
  }

  /** Clip, AdamW, advance the step counter, after accumulate. Returns the gradient norm before clipping. */
  async optimizerStep(): Promise<{ gradNorm: number; lr: number }> {
    const lr = this.submitOptimizer();
    return { gradNorm: this.finishStep(await this.readResult(), lr), lr };
  }

  /**
   * One optimizer step over `micro` (1..gradAccum micro-batches): forward, backward, clip, guard
   * and AdamW queued together, one read-back.
   */
  async trainStep(micro: Batch[]): Promise<StepResult> {
    if (this.newShape(micro)) await this.compileFor(micro);
    const tokens = this.submitMicroBatches(micro);
    const lr = this.submitOptimizer();
    const health = await this.readResult();
    const gradNorm = this.finishStep(health, lr);
    const result: StepResult = { step: this.step, loss: health.loss, gradNorm, lr, tokens };
    if (this.objective.preference) result.metrics = health.metrics;
    return result;
  }

  /** GPU time per kernel of one full step (forward, backward, optimizer) on `batch`. Benchmarks only. */
  async profile(batch: Batch): Promise<KernelProfile> {
    this.writeInputs(batch);
    this.objective.writeScales([batch]);
    const train = await this.programsFor(batch.B, batch.T).train.profile();
    this.gpu.write(this.stepParams, adamwStepParams(0, this.hyper.beta1, this.hyper.beta2, this.step + 1));
    const opt = await this.optimizer.profile();
    for (const [k, v] of Object.entries(opt)) {
      const e = (train[k] ??= { calls: 0, ms: 0 });
      e.calls += v.calls;
      e.ms += v.ms;
    }
    return train;
  }

  /** Mean loss on a batch with dropout off and no gradient. */
  async evalLoss(batch: Batch): Promise<number> {
    return (await this.evaluate(batch)).loss;
  }

  /** Loss and (a preference method's) metrics on a batch with dropout off and no gradient. */
  async evaluate(batch: Batch): Promise<{ loss: number; metrics: StepMetrics }> {
    if (this.newShape([batch])) await this.compileFor([batch]);
    this.writeInputs(batch);
    try {
      this.objective.writeScales([batch]);
    } catch (e) {
      if (e instanceof GpuError) throw new GpuError(`the evaluation batch: ${e.message}`);
      throw e;
    }
    const enc = this.gpu.device.createCommandEncoder();
    enc.clearBuffer(this.result);
    enc.clearBuffer(this.objective.metrics);
    this.programsFor(batch.B, batch.T).evalLoss.encode(enc);
    enc.copyBufferToBuffer(this.model.loss, 0, this.result, 4 * lossWord(0), 4);
    enc.copyBufferToBuffer(this.objective.metrics, 0, this.result, 4 * guardWords(this.slotCount), 4 * METRIC_WORDS);
    this.gpu.device.queue.submit([enc.finish()]);
    const health = await this.readResult();
    return { loss: health.loss, metrics: health.metrics };
  }

  /**
   * A preference batch's per-sequence figures after accumulate or evaluate (rows: chosen, then
   * rejected): the policy's and the reference's log-probs, their log-ratio and the counted tokens. Checks only.
   */
  async sequenceFigures(B: number): Promise<{ logp: Float32Array; ref: Float32Array; ratio: Float32Array; tokens: Float32Array }> {
    const o = this.objective;
    const read = (b: GPUBuffer) => this.gpu.readF32(b, B);
    return { logp: await read(o.logp), ref: await read(o.ref), ratio: await read(o.ratio), tokens: await read(o.tokens) };
  }

  /**
   * Logits (B*T, V) of a forward pass with dropout off, read back one head chunk at a time.
   * Allocates (a program per chunk and the whole result): for checks, not for training.
   */
  async logits(batch: Batch): Promise<Float32Array> {
    this.writeInputs(batch);
    const V = this.spec.vocabSize;
    const out = new Float32Array(batch.B * batch.T * V);
    const forward = this.programsFor(batch.B, batch.T).forward;
    let first = true;
    for (const { start, rows } of this.model.headChunks(batch.B * batch.T)) {
      const rec = this.gpu.recorder();
      this.model.recordHead(rec, start, rows);
      const head = rec.finish();
      await this.gpu.checked(async () => {
        const enc = this.gpu.device.createCommandEncoder();
        if (first) forward.encode(enc);
        head.encode(enc);
        this.gpu.device.queue.submit([enc.finish()]);
      });
      first = false;
      out.set(await this.gpu.readF32(this.model.logits, rows * V), start * V);
      head.destroy();
    }
    return out;
  }

  /** Maps the result words back: the only wait of a step. */
  private async readResult(): Promise<StepHealth & { metrics: StepMetrics }> {
    const bytes = this.readback.size;
    const enc = this.gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.result, 0, this.readback, 0, bytes);
    this.gpu.device.queue.submit([enc.finish()]);
    try {
      await this.readback.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      this.gpu.assertAlive();
      throw e;
    }
    const uncaptured = this.gpu.takeUncapturedError();
    const words = this.readback.getMappedRange(0, bytes).slice(0);
    this.readback.unmap();
    if (uncaptured) throw new GpuError(`GPU error during training: ${uncaptured}`);
    const metrics = this.objective.metricsOf(new Float32Array(words, 4 * guardWords(this.slotCount), METRIC_WORDS));
    return { ...readHealth(words, this.slotCount), metrics };
  }

  /** The current LoRA gradients by PEFT key (after accumulate). */
  async gradients(): Promise<Map<string, HostTensor>> {
    return unpackLora(this.layout, await this.gpu.readF32(this.model.grads, this.n));
  }

  /** The adapter by PEFT key, ready for writeAdapter. */
  async exportAdapter(): Promise<Map<string, HostTensor>> {
    return unpackLora(this.layout, await this.gpu.readF32(this.model.params, this.n));
  }

  async saveState(): Promise<TrainerState> {
    return {
      step: this.step,
      params: await this.gpu.readF32(this.model.params, this.n),
      m: await this.gpu.readF32(this.m, this.n),
      v: await this.gpu.readF32(this.v, this.n),
    };
  }

  loadState(s: TrainerState): void {
    if (s.params.length !== this.n || s.m.length !== this.n || s.v.length !== this.n) {
      throw new GpuError(`checkpoint holds ${s.params.length} parameters; this run has ${this.n}`);
    }
    this.gpu.write(this.model.params, s.params);
    this.gpu.write(this.m, s.m);
    this.gpu.write(this.v, s.v);
    this.step = s.step;
  }

  /** Bytes of GPU buffers allocated by this process (peak). */
  get gpuBytes(): number {
    return this.gpu.peakAllocatedBytes;
  }

  destroy(): void {
    this.encodedAhead = null;
    for (const p of this.programs.values()) {
      p.train.destroy();
      p.evalLoss.destroy();
      p.forward.destroy();
    }
    this.optimizer.destroy();
    this.model.destroy();
    for (const b of this.owned) this.gpu.destroyBuffer(b);
    destroyModelWeights(this.gpu, this.weights);
    this.gpu.destroyBuffer(this.readback);
  }
}
