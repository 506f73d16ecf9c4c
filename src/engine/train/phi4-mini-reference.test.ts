// The engine against PyTorch + transformers + PEFT on Phi-4-mini-shaped tiny Phi3ForCausalLM
// configs (testdata/phi4-mini-tiny, made by its make_references.py with ../shared/hfstack):
// partial_rotary_factor 0.75 (12 of 16 head dims rotated), rope_scaling longrope with its long
// factors (20 tokens > original_max_position_embeddings 16) and its short ones (original 32), the
// attention factor from max / original positions, a tied head, LoRA on the fused qkv_proj and
// gate_up_proj. The same bounds as the shared fixtures (check-reference), f32 and quantized, on one
// GPU for the file so the configs share compiled pipelines.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReference, missedBounds } from '../../cli/check-reference';
import { nodeFolder } from '../../io/node-files';
import { longropeIsLong } from '../kernels/rope';
import { archFeatures, rotaryDim } from '../model/arch';
import { openModelFolder } from '../model/weights';
import { testGpu } from '../kernels/testing';

const root = resolve(process.cwd(), 'src/engine/train/testdata/phi4-mini-tiny');
const recipe = (dir: string): { initial_loss: number } => JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { initial_loss: number };

for (const [name, long] of [
  ['longrope-long', true],
  ['longrope-short', false],
] as const) {
  describe(`engine vs PyTorch + PEFT: phi4-mini-tiny/${name}`, () => {
    const dir = join(root, name);

    it('the config is what it exercises: partial rotary, LongRoPE (long or short factors at 20 tokens), tied head, fused modules', async () => {
      const { spec } = await openModelFolder(nodeFolder(join(dir, 'model')));
      expect(spec.headDim).toBe(16);
      expect(rotaryDim(spec)).toBe(12);
      expect(spec.tieWordEmbeddings).toBe(true);
      expect(longropeIsLong(spec.rope, 20)).toBe(long);
      expect(archFeatures(spec)).toEqual(expect.arrayContaining(['fused_qkv', 'fused_gate_up', 'partial_rotary', 'longrope']));
    });

    it('f32: loss, logits, every LoRA gradient, 5 AdamW steps, final adapter within the fixtures\' bounds', async () => {
      const r = await checkReference(dir, { gpu: await testGpu() });
      expect(r.grad_tensors).toBe(16);
      expect(missedBounds(r, recipe(dir))).toEqual([]);
    });

    for (const quant of ['int8', 'int4'] as const) {
      it(`${quant} base: first loss within its bound of the f32 truth, the loss falls`, async () => {
        const r = await checkReference(dir, { quant, gpu: await testGpu() });
        expect(missedBounds(r, recipe(dir))).toEqual([]);
      });
    }
  });
}
