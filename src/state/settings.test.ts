import { describe, expect, it } from 'vitest';
import type { ModelSummary } from '../worker/protocol';
import { defaultSettings, demoSettings, plannedSteps, toTrainSettings, validateSettings } from './settings';

const model = { hiddenSize: 64, intermediateSize: 128, maxPositionEmbeddings: 512 } as ModelSummary;

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
  });
});
