// The training loop with a stand-in trainer: cadences, checkpoints, stop, and a diverged step.
import { describe, expect, it } from 'vitest';
import { DivergenceError } from './divergence';
import { RunControl, evalCadence, heldOutCount, holdOut, runLoop, type LoopHooks } from './loop';
import { planItems } from './plan';
import type { Batch, StepResult } from './types';

const batch: Batch = { B: 1, T: 2, inputIds: Int32Array.from([1, 2]), attentionMask: Int32Array.from([1, 1]), labels: Int32Array.from([1, 2]) };
const plan = { microBatches: (step: number) => ({ epoch: Math.floor(step / 4), micro: [batch] }) };

function fakeTrainer(divergeAt = Infinity) {
  let step = 0;
  return {
    async step(): Promise<StepResult> {
      if (step + 1 === divergeAt) {
        throw new DivergenceError(step + 1, { flags: 32, maxParam: 1e6, gradNormSq: 1, loss: 2 }, { loss: 50, gradNorm: 1e6, param: 1e4 }, { lr: 1e6, maxGradNorm: 1 }, 1e6);
      }
      step++;
      return { step, loss: 10 - step, gradNorm: 1, lr: 1e-3, tokens: 1 };
    },
    async evalLoss(): Promise<number> {
      return 5;
    },
  };
}

function record(control = new RunControl()) {
  const log: string[] = [];
  const hooks: LoopHooks = {
    onStep: (m, epoch) => log.push(`step ${m.step} e${epoch}`),
    onEval: (s) => log.push(`eval ${s}`),
    checkpoint: async (s) => void log.push(`ckpt ${s}`),
  };
  return { log, hooks, control };
}

describe('training loop', () => {
  it('validates ten times a run and after the last step, checkpoints every N and at the end', async () => {
    const { log, hooks, control } = record();
    const r = await runLoop(fakeTrainer(), plan, [batch], { maxSteps: 20, checkpointEvery: 8 }, control, hooks);
    expect(r).toMatchObject({ end: 'finished', steps: 20, finalLoss: -10, finalValLoss: 5 });
    expect(log.filter((l) => l.startsWith('eval'))).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20].map((s) => `eval ${s}`));
    expect(log.filter((l) => l.startsWith('ckpt'))).toEqual(['ckpt 8', 'ckpt 16', 'ckpt 20']);
    expect(evalCadence(5)).toBe(1);
  });

  it('a stopped run checkpoints where it stopped; a resumed one starts at its step', async () => {
    const { log, hooks, control } = record();
    hooks.onStep = (m) => {
      log.push(`step ${m.step}`);
      if (m.step === 3) control.stop();
    };
    const r = await runLoop(fakeTrainer(), plan, [], { maxSteps: 10, checkpointEvery: 0, startStep: 1 }, control, hooks);
    expect(r).toMatchObject({ end: 'stopped', steps: 3 });
    expect(log).toEqual(['step 2', 'step 3', 'ckpt 3']);
  });

  it('a diverged step checkpoints the last good step, then the error goes up', async () => {
    const { log, hooks, control } = record();
    await expect(runLoop(fakeTrainer(4), plan, [], { maxSteps: 10, checkpointEvery: 2 }, control, hooks)).rejects.toThrow(/diverged at step 4/);
    expect(log).toEqual(['step 1 e0', 'step 2 e0', 'ckpt 2', 'step 3 e0', 'ckpt 3']);
  });

  it('a run that diverges at its first step writes no checkpoint', async () => {
    const { log, hooks, control } = record();
    await expect(runLoop(fakeTrainer(1), plan, [], { maxSteps: 10, checkpointEvery: 2 }, control, hooks)).rejects.toBeInstanceOf(DivergenceError);
    expect(log).toEqual([]);
  });

  it('holds out a count, or a fraction converted to one (at least one example)', () => {
    const items = planItems(Array.from({ length: 10 }, (_, i) => ({ inputIds: Int32Array.of(i), trainMask: Uint8Array.of(1) })));
    expect(holdOut(items, 3, 1).validation).toHaveLength(3);
    expect(holdOut(items, 0, 1).validation).toHaveLength(0);
    expect(heldOutCount(10, 0.01)).toBe(1);
    expect(heldOutCount(10, 0.25)).toBe(3);
    expect(heldOutCount(10, 0)).toBe(0);
  });
});
