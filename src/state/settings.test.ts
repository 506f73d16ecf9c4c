import { describe, expect, it } from 'vitest';
import { PRESETS } from '../engine/model/presets';
import { defaultSettings, demoSettings, packingOf, plannedSteps, toTrainSettings, validateSettings } from './settings';

const model = { spec: { ...PRESETS['tiny'], hiddenSize: 64, intermediateSize: 128, maxPositionEmbeddings: 512 } };

describe('settings', () => {
  it('defaults and the demo preset are valid', () => {
    expect(validateSettings(defaultSettings(), { model, examples: 50 })).toEqual({});
    expect(validateSettings(demoSettings(), { model, examples: 50 })).toEqual({});
  });

  it('reports every error at once', () => {
    const s = defaultSettings();
    s.numbers = { ...s.numbers, maxSteps: '0', loraRank: '2.5', learningRate: '', maxLength: '4096', validationExamples: '11' };
    s.targetPreset = 'custom';
    s.customTargets = [];
    const errors = validateSettings(s, { model, examples: 50 });
    expect(Object.keys(errors).sort()).toEqual(['learningRate', 'loraRank', 'maxLength', 'maxSteps', 'targets', 'validationExamples']);
    expect(errors.maxLength).toContain('512');
  });

  it('packing: automatic from the examples\' mean length against Max length, or as set; steps per epoch from the packed rows', () => {
    const s = defaultSettings(); // Max length 512, batch 4, automatic packing
    const short = Int32Array.from({ length: 40 }, () => 100); // mean 100 <= 256: on
    const long = Int32Array.from({ length: 40 }, () => 300); // mean 300 > 256: off
    expect([packingOf(s, short), packingOf(s, long), packingOf(s, null)]).toEqual([true, false, false]);
    // Lengths past Max length count as Max length: 2000 -> 512, mean (512 + 30) / 4 (uncapped it would be 507).
    expect(packingOf(s, Int32Array.from([2000, 10, 10, 10]))).toBe(true);
    expect(packingOf({ ...s, packing: false }, short)).toBe(false);
    expect(packingOf({ ...s, packing: true }, long)).toBe(true);
    expect(demoSettings().packing).toBe(false);
    // 40 examples of 100 tokens: 5 per row of 512, 8 rows; 4 rows per step: 2 steps per epoch.
    s.numbers.epochs = '3';
    expect(plannedSteps(s, 40, short)).toBe(6);
    expect(plannedSteps({ ...s, packing: false }, 40, short)).toBe(30); // 10 batches of 4 examples per epoch
    const t = toTrainSettings(s, 40, short);
    expect([t.packing, t.train.maxSteps]).toEqual([true, 6]);
    expect(toTrainSettings(s, 40, long).packing).toBe(false);
  });

  it('converts to the engine settings', () => {
    const s = demoSettings();
    s.numbers.epochs = '2';
    expect(plannedSteps(s, 50)).toBe(20); // min(20 max steps, ceil(2 * 50 / 4) = 25)
    s.numbers.epochs = '1';
    const t = toTrainSettings(s, 50);
    expect(t.train.maxSteps).toBe(13);
    expect(t.lora).toEqual({ r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false });
    expect(t.train.lr).toBe(0.005);
    expect(t.maxLength).toBe(128);
    expect(t.startAdapter).toBeNull();
  });

  it('with a start adapter, its LoRA settings (patterns included) are the run\'s, with the form\'s dropout', () => {
    const s = demoSettings();
    s.numbers.loraRank = 'not a number'; // the adapter decides: no error for the disabled field
    s.numbers.loraDropout = '0.1';
    const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj' as const], useRslora: false, rankPattern: { q_proj: 2 }, layersToTransform: [1] };
    s.startAdapter = { name: 'my-adapter', lora, baseModel: null, tensors: 2, params: 192 };
    expect(validateSettings(s, { model: null, examples: 50 })).toEqual({});
    const t = toTrainSettings(s, 50);
    expect(t.lora).toEqual({ ...lora, dropout: 0.1 });
    expect(t.startAdapter).toBe('my-adapter');
  });
});

describe('the method setting', () => {
  it('refuses a method the loaded data cannot feed, naming what to choose', () => {
    const dpo = { ...defaultSettings(), method: 'dpo' as const };
    expect(validateSettings(dpo, { model, examples: 50, preferenceData: true })).toEqual({});
    expect(validateSettings(dpo, { model, examples: 50, preferenceData: false }).method).toBe(
      'DPO needs preference data (records with "chosen" and "rejected"), and this dataset has SFT examples: choose SFT as the Method, or load a preference file',
    );
    expect(validateSettings(defaultSettings(), { model, examples: 50, preferenceData: true }).method).toMatch(/^SFT trains on examples, and this dataset is preference data .*choose DPO, IPO or ORPO/);
    // No dataset yet: nothing to compare with.
    expect(validateSettings(dpo, { model, examples: null, preferenceData: null }).method).toBeUndefined();
  });

  it('keeps Max prompt length below Max length, and only for a preference method', () => {
    const orpo = { ...defaultSettings(), method: 'orpo' as const };
    orpo.numbers = { ...orpo.numbers, maxLength: '64', maxPromptLength: '64' };
    expect(validateSettings(orpo, { model, examples: 50 }).maxPromptLength).toBe('Max prompt length must be below Max length (64): the completions need room');
    expect(validateSettings({ ...orpo, method: 'sft' }, { model, examples: 50 }).maxPromptLength).toBeUndefined();
  });

  it('gives the worker the method, beta and max prompt length; pairs are never packed', () => {
    const ipo = { ...defaultSettings(), method: 'ipo' as const, packing: true };
    ipo.numbers = { ...ipo.numbers, beta: '0.5', maxPromptLength: '100' };
    const t = toTrainSettings(ipo, 10, [4, 4, 4]);
    expect([t.train.method, t.train.beta, t.maxPromptLength, t.packing]).toEqual(['ipo', 0.5, 100, false]);
    const sft = toTrainSettings({ ...ipo, method: 'sft' }, 10, [4, 4, 4]);
    expect([sft.train.method, sft.train.beta, sft.maxPromptLength, sft.packing]).toEqual(['sft', 0.1, undefined, true]);
  });
});
