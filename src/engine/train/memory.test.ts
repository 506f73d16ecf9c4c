// The memory estimate against what the trainer really allocates: every buffer of Trainer.create,
// by label and size (recording a step's programs adds only uniform blocks: train-bench.test.ts
// holds the estimate's total against the bench's recorded peak), on small shapes of the
// architectures the engine runs (tied and untied heads, Qwen2 biases, Qwen3 qk-norm, Gemma 3's
// sandwich norms and second RoPE tables), f32 and
// int4, with and without checkpointing, a rank pattern, and a forced LM-head chunk.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../kernels/testing';
import { PRESETS, randomWeights } from '../model/presets';
import { PROJECTIONS, type ModelSpec } from '../model/spec';
import { estimateTrainingMemory, plannedBuffers, type MemoryEstimateOptions } from './memory';
import { Trainer } from './trainer';
import { DEFAULT_TRAIN, type LoraHyper } from './types';

const lora: LoraHyper = { r: 4, alpha: 8, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false };
const tiny = PRESETS['tiny'];
const shapes: Array<[string, ModelSpec]> = [
  ['llama, untied', tiny],
  ['qwen2 biases, tied', { ...tiny, modelType: 'qwen2', qkvBias: true, tieWordEmbeddings: true, vocabSize: 300 }],
  ['qwen3 qk-norm', { ...tiny, modelType: 'qwen3', qkNorm: true, headDim: 24 }],
  [
    'gemma3 sandwich norms, local RoPE tables, sliding layers',
    {
      ...tiny,
      architecture: 'Gemma3ForCausalLM',
      modelType: 'gemma3_text',
      qkNorm: true,
      tieWordEmbeddings: true,
      hiddenAct: 'gelu_pytorch_tanh',
      slidingWindow: 8,
      layerTypes: ['sliding_attention', 'full_attention'],
      ropeLocal: { ...tiny.rope, theta: 100 },
    },
  ],
];

/** The buffers Trainer.create allocates, as "label bytes", uniform blocks apart. */
async function allocated(spec: ModelSpec, o: MemoryEstimateOptions): Promise<string[]> {
  const gpu = await testGpu();
  const seen: GPUBufferDescriptor[] = [];
  const allocate = gpu.allocate.bind(gpu);
  gpu.allocate = (d) => {
    seen.push(d);
    return allocate(d);
  };
  try {
    const trainer = await Trainer.create(
      gpu,
      { spec, weights: randomWeights(spec, 1, o.quant) },
      o.lora,
      { ...DEFAULT_TRAIN, checkpointing: o.checkpointing, gradAccum: o.gradAccum ?? 1, method: o.method ?? 'sft' },
      { maxBatch: o.batch, maxSeq: o.seq, quant: o.quant, logitsChunkRows: o.logitsChunkRows },
    );
    trainer.destroy();
    return seen.filter((d) => !(d.label ?? '').endsWith('.uniforms')).map((d) => `${d.label} ${d.size}`).sort();
  } finally {
    gpu.allocate = allocate;
  }
}

describe('training memory estimate', () => {
  const list = (spec: ModelSpec, o: MemoryEstimateOptions): string[] =>
    plannedBuffers(spec, o)
      .filter((b) => b.part !== 'uniforms')
      .map((b) => `${b.label} ${b.bytes}`)
      .sort();

  for (const [name, spec] of shapes) {
    for (const [quant, checkpointing] of [
      ['none', false],
      ['int4', true],
    ] as const) {
      it(`lists the trainer's buffers: ${name}, ${quant}, checkpointing ${checkpointing}`, async () => {
        const o: MemoryEstimateOptions = { batch: 2, seq: 16, lora, quant, checkpointing };
        expect(list(spec, o)).toEqual(await allocated(spec, o));
      });
    }
    it(`lists the trainer's buffers of a preference run: ${name}, dpo and orpo`, async () => {
      for (const method of ['dpo', 'orpo'] as const) {
        const o: MemoryEstimateOptions = { batch: 4, seq: 16, lora, quant: 'none', checkpointing: false, method };
        expect(list(spec, o)).toEqual(await allocated(spec, o));
      }
    });
  }

  it('follows a rank pattern, layers to transform, gradient accumulation and a forced LM-head chunk', async () => {
    const o: MemoryEstimateOptions = {
      batch: 2,
      seq: 64,
      lora: { ...lora, targetModules: ['q_proj', 'down_proj'], rankPattern: { 'layers.1.self_attn.q_proj': 12 }, layersToTransform: [1] },
      quant: 'int8',
      checkpointing: false,
      gradAccum: 3,
      logitsChunkRows: 64,
    };
    expect(list(tiny, o)).toEqual(await allocated(tiny, o));
    expect(estimateTrainingMemory(tiny, o).parts.logits).toBe(64 * tiny.vocabSize * 4);
    // The packed batch's positions (i32 per token), beside ids, mask and targets.
    expect(plannedBuffers(tiny, o).find((b) => b.label === 'positions')).toMatchObject({ part: 'activations', bytes: 2 * 64 * 4 });
  });

  it('names the largest buffer and the largest whole binding', () => {
    const spec = PRESETS['smollm2-135m'];
    const o: MemoryEstimateOptions = { batch: 4, seq: 512, lora: { ...lora, r: 16 }, quant: 'int4', checkpointing: false };
    const est = estimateTrainingMemory(spec, o);
    // 2048 tokens × 49152 vocabulary: the head runs in chunks of 640 rows (128 MiB), not all of them.
    expect(est.parts.logits).toBe(640 * 49152 * 4);
    expect(est.largest_binding).toEqual({ label: 'logits', bytes: 640 * 49152 * 4 });
    // int4 blocks of the (49152, 576) embedding: 18 blocks of 4 words a row, bound in parts.
    expect(est.largest_buffer.bytes).toBeGreaterThanOrEqual(49152 * 18 * 4 * 4);
    // f32 at 1 × 512: the 512 rows of logits (96 MiB) are smaller than the f32 embedding (108 MiB).
    const f32 = estimateTrainingMemory(spec, { ...o, batch: 1, quant: 'none' });
    expect(f32.largest_buffer).toEqual({ label: 'model.embed_tokens.weight', bytes: 49152 * 576 * 4 });
    expect(f32.largest_binding).toEqual(f32.largest_buffer);
    expect(() => estimateTrainingMemory(spec, { ...o, batch: 0 })).toThrow(/batch must be a positive integer/);
  });
});
