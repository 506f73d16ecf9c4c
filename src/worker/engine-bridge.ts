// The only place the worker touches the engine's training API (src/engine). The handler needs
// exactly these few functions, so a change of the engine's API is a one-file edit here.
import { createBrowserGpu } from '../gpu/browser';
import type { Gpu } from '../gpu/gpu';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, readAdapter, writeAdapter } from '../engine/lora/adapter';
import { memoryFolder } from '../engine/model/weights';
import { loraLayout, unpackLora } from '../engine/lora/layout';
import type { HostTensor, ModelSpec } from '../engine/model/spec';
import { Trainer, type TrainerState } from '../engine/train/trainer';
import type { Batch, LoraHyper, StepResult } from '../engine/train/types';
import type { TrainSettings } from './protocol';
import type { WeightSource } from '../engine/model/weight-source';
import type { TrainerGpuShare } from './generate-bridge';
import { Decoder } from '../engine/generate/decoder';
import { Generation } from '../engine/generate/generate';

export interface EngineModel {
  spec: ModelSpec;
  /**
   * Where the base weights are read from, tensor by tensor, each time the trainer or "Try it"
   * uploads them (the library's int8/int4 matrices stay quantized): no host copy of the model.
   */
  weights: WeightSource;
}

/** What the worker needs of a trainer. */
export interface TrainerLike {
  step(microBatches: Batch[]): Promise<StepResult>;
  evalLoss(batch: Batch): Promise<number>;
  /** A batch's loss and a preference method's metrics (TRL's names; none for SFT). */
  evaluate?(batch: Batch): Promise<{ loss: number; metrics: Record<string, number | undefined> }>;
  exportAdapter(): Promise<Map<string, HostTensor>>;
  /** Step, LoRA parameters and AdamW moments (read back from the GPU), and their restore. */
  saveState(): Promise<TrainerState>;
  loadState(state: TrainerState): void;
  destroy(): void;
  /** LoRA parameters in the run (what a checkpoint's size follows). */
  readonly paramCount: number;
  /** The GPU buffers generation may borrow (see generate-bridge.ts). */
  gpuShare?(): TrainerGpuShare;
  /** Logits (B, T, V) of the training forward with the current adapter ("Check the export"). */
  logits?(batch: Batch): Promise<Float32Array>;
}

export function openGpu(): Promise<Gpu> {
  return createBrowserGpu();
}

export async function createTrainer(
  gpu: Gpu,
  model: EngineModel,
  settings: TrainSettings,
  maxBatch: number,
  maxSeq: number,
  /** The adapter's tensors when the run starts from one (PEFT keys). */
  initAdapter?: Map<string, HostTensor>,
): Promise<TrainerLike> {
  const trainer = await Trainer.create(gpu, model, settings.lora, settings.train, { maxBatch, maxSeq, initAdapter });
  return {
    step: (micro) => trainer.trainStep(micro),
    evalLoss: (batch) => trainer.evalLoss(batch),
    evaluate: (batch) => trainer.evaluate(batch),
    exportAdapter: () => trainer.exportAdapter(),
    saveState: () => trainer.saveState(),
    loadState: (state) => trainer.loadState(state),
    destroy: () => trainer.destroy(),
    paramCount: trainer.layout.totalFloats,
    // Generation borrows the trainer's frozen weights and live LoRA buffer instead of a second copy.
    gpuShare: () => ({ weights: trainer.model.weights, layout: trainer.layout, params: trainer.model.params }),
    logits: (batch) => trainer.logits(batch),
  };
}

/** A PEFT adapter's files read for `spec`: its settings and tensors (AdapterError naming what does not fit). */
export async function readStartAdapter(
  spec: ModelSpec,
  name: string,
  config: string,
  safetensors: ArrayBuffer,
): Promise<{ lora: LoraHyper; tensors: Map<string, HostTensor>; baseModel: string | null }> {
  const folder = memoryFolder(name, { [ADAPTER_CONFIG_FILE]: config, [ADAPTER_WEIGHTS_FILE]: new Uint8Array(safetensors) });
  const { settings, tensors, baseModel } = await readAdapter(folder, spec);
  return { lora: settings, tensors, baseModel };
}

export function adapterFiles(
  spec: ModelSpec,
  settings: TrainSettings,
  tensors: Map<string, HostTensor>,
  baseModel: string | null,
): { config: string; safetensors: Uint8Array } {
  return writeAdapter(spec, settings.lora, tensors, baseModel);
}

/** A checkpoint that does not fit the loaded model and the run's LoRA settings. */
export class CheckpointMismatchError extends Error {
  override name = 'CheckpointMismatchError';
}

/**
 * A checkpoint's flat LoRA parameters (the trainer's layout for `settings`) as the PEFT adapter
 * files exportAdapter writes: a run whose device is gone is exported without a GPU.
 */
export function checkpointAdapter(spec: ModelSpec, settings: TrainSettings, params: Float32Array, baseModel: string | null): { config: string; safetensors: Uint8Array } {
  const layout = loraLayout(spec, settings.lora);
  if (params.length !== layout.totalFloats) throw new CheckpointMismatchError(`the checkpoint holds ${params.length} LoRA parameters; this model and run's settings have ${layout.totalFloats}: load the run's model`);
  return adapterFiles(spec, settings, unpackLora(layout, params), baseModel);
}

/** Greedy decoding with the trainer's weights and live adapter (the engine's side of "Check the export"). */
export async function greedyWithAdapter(gpu: Gpu, spec: ModelSpec, share: TrainerGpuShare, prompt: number[], maxNewTokens: number, stopIds: number[]): Promise<number[]> {
  const decoder = await Decoder.create(gpu, spec, share.weights, { layout: share.layout, params: share.params }, { maxContext: prompt.length + maxNewTokens });
  try {
    return (await new Generation(decoder, prompt, { temperature: 0, topP: 1, maxNewTokens, stopIds, seed: 0 }).run()).ids;
  } finally {
    decoder.destroy();
  }
}
