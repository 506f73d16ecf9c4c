// Pipelines compiled ahead (Gpu.prepare, Trainer.create): the parallel compile covers exactly
// what a step and an evaluation then run, so neither compiles anything itself.
import { describe, expect, it } from 'vitest';
import { createNodeGpu } from '../../gpu/node';
import { pipelineKey } from '../../gpu/gpu';
import { addInplace, addInplaceCpu, splitReduce, splitReduceCpu } from '../kernels/add';
import { fakeBuf, rng, testGpu } from '../kernels/testing';
import { globalNormSquared, globalNormSquaredPartials } from '../kernels/optimizer';
import { guardedAdamw } from '../kernels/guard';
import { PRESETS, randomWeights } from '../model/presets';
import { PROJECTIONS } from '../model/spec';
import { Trainer } from './trainer';
import { DEFAULT_TRAIN, type Batch } from './types';

const spec = { ...PRESETS['tiny'], numLayers: 1 };
const lora = { r: 4, alpha: 8, dropout: 0, targetModules: [...PROJECTIONS], useRslora: false };
const hyper = { ...DEFAULT_TRAIN, lr: 1e-3, maxSteps: 2, schedule: 'constant' as const };
const B = 2;
const T = 16;

function batch(b = B, t = T): Batch {
  const g = rng(5);
  const inputIds = new Int32Array(b * t).map(() => Math.floor(g() * spec.vocabSize));
  return { B: b, T: t, inputIds, attentionMask: new Int32Array(b * t).fill(1), labels: inputIds };
}

/**
 * The pipelines of a step and an evaluation of `trainer`, recorded here independently of it with the
 * model's own record methods and the optimizer's kernels (recorded, never linked: nothing compiles).
 */
function pipelinesOfAStep(trainer: Trainer): string[] {
  const gpu = trainer.gpu;
  const rec = gpu.recorder();
  trainer.model.recordForward(rec, B, T, lora.dropout);
  trainer.model.recordBackward(rec, B, T, lora.dropout, trainer.objective);
  trainer.model.recordForward(rec, B, T, 0);
  trainer.objective.recordEval(rec, B, T);
  const n = trainer.layout.totalFloats;
  globalNormSquared(rec, fakeBuf(1), fakeBuf(globalNormSquaredPartials(n)), fakeBuf(n), n);
  const state = { params: fakeBuf(n), grads: fakeBuf(n), m: fakeBuf(n), v: fakeBuf(n), normSq: fakeBuf(1), stepParams: fakeBuf(4), result: fakeBuf(64) };
  guardedAdamw(rec, state, n, 1, hyper, trainer.guardBounds);
  const program = rec.finish();
  const keys = program.pipelineRequests().map(pipelineKey).sort();
  program.destroy();
  return keys;
}

describe('pipelines compiled ahead', () => {
  it('prepare compiles each distinct pipeline of the programs once, in parallel; running them compiles nothing more', async () => {
    const gpu = await createNodeGpu();
    try {
      const n = 300;
      const y0 = Float32Array.from({ length: n }, (_, i) => i / 7);
      const x = Float32Array.from({ length: n }, (_, i) => 1 - i / 11);
      const y = gpu.upload(y0, 'y');
      const xb = gpu.upload(x, 'x');
      const partials = gpu.upload(Float32Array.from([...x, ...y0]), 'partials');
      const out = gpu.createBuffer(n * 4, 'out');
      const a = gpu.recorder();
      addInplace(a, y, xb, n);
      addInplace(a, y, xb, n); // the same pipeline twice
      const b = gpu.recorder();
      splitReduce(b, out, partials, n, 2, n, false, 0.5);
      const programs = [a.finish(), b.finish()];
      expect(gpu.compiledPipelines()).toEqual([]);
      await gpu.checked(() => gpu.prepare(programs));
      expect(gpu.compileStats).toMatchObject({ async: 2, sync: 0 });
      await gpu.checked(() => {
        for (const p of programs) p.run();
      });
      const yCpu = Float32Array.from(y0);
      addInplaceCpu(yCpu, x, n);
      addInplaceCpu(yCpu, x, n);
      const outCpu = new Float32Array(n);
      splitReduceCpu(outCpu, Float32Array.from([...x, ...y0]), n, 2, n, false, 0.5);
      expect(await gpu.readF32(y, n)).toEqual(yCpu);
      expect(await gpu.readF32(out, n)).toEqual(outCpu);
      expect(gpu.compileStats).toMatchObject({ async: 2, sync: 0 });
      // A program that was not prepared compiles its new pipeline at its first run (the counter counts it).
      await gpu.run((rec) => splitReduce(rec, out, partials, n, 1, n, true));
      await gpu.run((rec) => splitReduce(rec, out, partials, n, 1, n, true));
      expect(gpu.compileStats).toMatchObject({ async: 2, sync: 0 });
      await gpu.run((rec) => rec.dispatch({ shader: { name: 'fill', code: '@group(0) @binding(1) var<storage, read_write> o: array<f32>;\n@compute @workgroup_size(1) fn f() { o[0] = 1.0; }' }, entry: 'f', bindings: [out], workgroups: [1] }));
      expect(gpu.compileStats).toMatchObject({ async: 2, sync: 1 });
      for (const p of programs) p.destroy();
    } finally {
      gpu.destroy();
    }
  });

  it('Trainer.create compiles exactly the pipelines a step and an evaluation run: none compiles afterwards', async () => {
    const gpu = await testGpu();
    expect(gpu.compiledPipelines()).toEqual([]);
    const trainer = await Trainer.create(gpu, { spec, weights: randomWeights(spec, 3) }, lora, hyper, { maxBatch: B, maxSeq: T });
    try {
      const atCreate = { ...gpu.compileStats };
      expect(atCreate.sync).toBe(0);
      expect(atCreate.async).toBe(gpu.compiledPipelines().length);
      expect(gpu.compiledPipelines().sort()).toEqual(pipelinesOfAStep(trainer));
      const { loss } = await trainer.trainStep([batch()]);
      expect(Number.isFinite(loss)).toBe(true);
      expect(Number.isFinite(await trainer.evalLoss(batch()))).toBe(true);
      // Nothing compiled at first use: the ahead compile missed nothing the step or the evaluation ran.
      expect(gpu.compileStats).toEqual(atCreate);
      // A batch of another shape (the plan's shorter buckets) compiles what it adds ahead of its step too.
      expect(Number.isFinite((await trainer.trainStep([batch(1, 8)])).loss)).toBe(true);
      expect(Number.isFinite(await trainer.evalLoss(batch(1, 8)))).toBe(true);
      expect(gpu.compileStats.sync).toBe(0);
    } finally {
      trainer.destroy();
    }
  });
});
