// The whole model's LoRA gradients against finite differences of its own loss, for configurations
// the PyTorch fixtures do not cover: multi-query attention, llama3 and linear RoPE scaling, rsLoRA,
// biases on every projection, q/k norm with head_dim != hidden/heads, a subset of target modules,
// batches of 1 and 3 rows with padding, checkpointing and a chunked LM head, and Gemma's layer
// (sandwich norms, GeLU-tanh, sliding window, soft-capping). The check is
// independent of the backward code: d/dε loss(p + ε·d) by central differences against g·d, for
// random directions d over every LoRA parameter.
import { describe, expect, it } from 'vitest';
import { matmulSplitSlices } from '../kernels/matmul';
import { rng, testGpu } from '../kernels/testing';
import { FD_CASES, weightsFor, type FdCase } from './fd-cases';
import { Trainer } from './trainer';
import { DEFAULT_TRAIN, type Batch } from './types';

function batchFor(c: FdCase, seed: number): Batch {
  const g = rng(seed);
  const { rows: B, T, pad } = c;
  const inputIds = new Int32Array(B * T).map(() => Math.floor(g() * c.spec.vocabSize));
  const attentionMask = new Int32Array(B * T).fill(1);
  const labels = Int32Array.from(inputIds);
  for (let b = 0; b < B; b++) labels[b * T] = labels[b * T + 1] = -100; // a masked "prompt"
  for (let t = T - pad; t < T; t++) {
    attentionMask[(B - 1) * T + t] = 0;
    labels[(B - 1) * T + t] = -100;
  }
  return { B, T, inputIds, attentionMask, labels };
}

describe('whole-model LoRA gradients = finite differences of the loss', () => {
  it('the chunked-head case really splits the head backward', () => {
    expect(matmulSplitSlices(1, 2048)).toBeGreaterThan(1);
  });

  for (const c of FD_CASES) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const hyper = { ...DEFAULT_TRAIN, checkpointing: c.checkpointing ?? false };
      const t = await Trainer.create(gpu, { spec: c.spec, weights: weightsFor(c.spec, 5) }, c.lora, hyper, {
        maxBatch: c.rows,
        maxSeq: c.T,
        logitsChunkRows: c.logitsChunkRows,
      });
      try {
        // A and B both random (a fresh adapter has B = 0, which zeroes every gradient of A).
        const n = t.layout.totalFloats;
        const g = rng(9);
        const p0 = new Float32Array(n).map(() => (g() - 0.5) * 0.5);
        const zeros = new Float32Array(n);
        t.loadState({ step: 0, params: p0, m: zeros, v: zeros });
        const batch = batchFor(c, 3);
        await t.accumulate([batch]);
        const flatGrad = await gpu.readF32(t.model.grads, n);
        // Directions of unit length: the gradient's own, and halfway between it and a random one.
        const unit = (v: Float32Array): Float32Array => {
          const norm = Math.hypot(...v);
          return v.map((x) => x / norm);
        };
        const gHat = unit(flatGrad);
        const rHat = unit(new Float32Array(n).map(() => g() - 0.5));
        for (const d of [gHat, unit(gHat.map((x, i) => x + rHat[i]))]) {
          let gd = 0;
          for (let i = 0; i < n; i++) gd += flatGrad[i] * d[i];
          const lossAt = async (step: number): Promise<number> => {
            t.loadState({ step: 0, params: p0.map((v, i) => v + step * d[i]), m: zeros, v: zeros });
            return t.evalLoss(batch);
          };
          const central = async (h: number): Promise<number> => ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
          // Richardson: the O(h²) curvature terms of two central differences cancel, leaving O(h⁴)
          // and the f32 rounding of the loss (~1e-6 / h).
          const h = 4e-3;
          const fd = (4 * (await central(h / 2)) - (await central(h))) / 3;
          expect(Math.abs(gd)).toBeGreaterThan(1e-2);
          expect(Math.abs(fd - gd) / Math.abs(gd)).toBeLessThan(2e-3);
        }
      } finally {
        t.destroy();
      }
    });
  }
});
