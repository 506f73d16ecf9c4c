// A run whose GPU device is gone is exported from its stored checkpoint (checkpointAdapter, no GPU).
// A checkpoint holds the trainer's flat LoRA buffer: packLora of the adapter's tensors in the
// layout of the model and the run's LoRA settings (trainer.ts uploads exactly that). Its export
// must be the files writeAdapter makes of those tensors. (e2e/device-loss.spec.ts compares a real
// run's checkpoint export with the trainer's own export in Chromium.)
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initLoraTensors } from '../engine/lora/adapter';
import { loraLayout, packLora } from '../engine/lora/layout';
import type { HostTensor } from '../engine/model/spec';
import { openModelFolder } from '../engine/model/weights';
import { DEFAULT_TRAIN } from '../engine/train/types';
import { nodeFolder } from '../io/node-files';
import { adapterFiles, CheckpointMismatchError, checkpointAdapter, type EngineModel } from './engine-bridge';
import type { TrainSettings } from './protocol';

const demo = resolve(process.cwd(), 'public/demo');
const settings: TrainSettings = {
  lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false },
  train: { ...DEFAULT_TRAIN, maxSteps: 2 },
  batchSize: 1,
  maxLength: 16,
  checkpointEvery: 1,
  validationExamples: 0,
};

describe('checkpointAdapter: a stored checkpoint as PEFT adapter files without a GPU', () => {
  let model: EngineModel;
  let tensors: Map<string, HostTensor>;
  let flat: Float32Array;

  beforeAll(async () => {
    model = await openModelFolder(nodeFolder(demo));
    // A trained adapter's values: random A as PEFT initialises it, and B given distinct values (not 0).
    tensors = initLoraTensors(model.spec, settings.lora, 7);
    let k = 0;
    for (const [key, t] of tensors) if (key.includes('lora_B')) for (let i = 0; i < t.data.length; i++) t.data[i] = ((k++ % 97) - 48) / 1000;
    flat = packLora(loraLayout(model.spec, settings.lora), tensors);
  });

  it('writes the files of the adapter the checkpoint holds, byte for byte', () => {
    const want = adapterFiles(model.spec, settings, tensors, 'demo/model');
    const got = checkpointAdapter(model.spec, settings, flat, 'demo/model');
    expect(got.config).toBe(want.config);
    expect(Buffer.compare(Buffer.from(got.safetensors), Buffer.from(want.safetensors))).toBe(0);
    expect(tensors.size).toBe(2 * 3 * model.spec.numLayers);
  });

  it('refuses a checkpoint that does not fit the model and the run settings (typed)', () => {
    expect(() => checkpointAdapter(model.spec, settings, flat.subarray(1), null)).toThrow(CheckpointMismatchError);
    const other = { ...settings, lora: { ...settings.lora, r: 8 } };
    expect(() => checkpointAdapter(model.spec, other, flat, null)).toThrow(/checkpoint holds \d+ LoRA parameters; this model and run's settings have \d+/);
  });
});
