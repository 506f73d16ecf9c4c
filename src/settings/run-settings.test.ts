import { describe, expect, it } from 'vitest';
import { parseRunFlags, RUN_BOOL_FLAGS, RUN_VALUE_FLAGS } from '../cli/run-flags';
import { TRAIN_BOOL_FLAGS, TRAIN_VALUE_FLAGS } from '../cli/train';
import { allMappings, STUDIO_SETTINGS } from '../export/recipe/mapping';
import { defaultSettings, toTrainSettings, validateSettings } from '../state/settings';
import { PRESETS } from '../engine/model/presets';
import { DEFAULT_NUMBERS, maxValidationExamples, NUMBER_SETTINGS, numberProblem, OTHER_SETTINGS, parseTargets, TARGET_GROUPS, type NumberField } from './run-settings';

const cliFlags = new Set<string>([...RUN_VALUE_FLAGS, ...RUN_BOOL_FLAGS, ...TRAIN_VALUE_FLAGS, ...TRAIN_BOOL_FLAGS]);
const recipeKeys = new Set(allMappings().map(([k]) => k));
const studioRecipeNotes = Object.values(STUDIO_SETTINGS).join('\n');

describe('the run-settings schema', () => {
  const every = [...Object.entries(NUMBER_SETTINGS), ...Object.entries(OTHER_SETTINGS)];

  it.each(every)('%s has a CLI flag that train takes, a page label and hint, and a recipe mapping', (_key, s) => {
    expect(cliFlags.has(s.flag), `--${s.flag}`).toBe(true);
    expect(s.label.length).toBeGreaterThan(2);
    expect(s.hint.length).toBeGreaterThan(20);
    expect(recipeKeys.has(s.recipe) || studioRecipeNotes.includes(s.recipe), `recipe ${s.recipe}`).toBe(true);
  });

  it('each numeric default passes its own validator, and values outside the limits do not', () => {
    for (const key of Object.keys(NUMBER_SETTINGS) as NumberField[]) {
      const f = NUMBER_SETTINGS[key];
      const d = DEFAULT_NUMBERS[key];
      if (d === '') expect(f).toHaveProperty('optional', true);
      else expect(numberProblem(key, Number(d)), key).toBeNull();
      expect(numberProblem(key, f.max * 2 + 1), key).toContain('at most');
      expect(numberProblem(key, f.min - 1), key).not.toBeNull();
    }
  });

  it('the CLI with no flags and the page with its defaults describe the same run', () => {
    const errors: string[] = [];
    const cli = parseRunFlags({}, new Set(), errors, 'format');
    expect(errors).toEqual([]);
    const page = toTrainSettings(defaultSettings(), null);
    expect(cli.lora).toEqual({ ...page.lora });
    expect({ ...cli.hyper, maxSteps: page.train.maxSteps }).toEqual(page.train);
    expect([cli.batchSize, cli.maxLength]).toEqual([page.batchSize, page.maxLength]);
  });

  it('--method and --beta are validated as the page validates them', () => {
    const errors: string[] = [];
    const cli = parseRunFlags({ method: 'dpo', beta: '0.25' }, new Set(), errors, 'format');
    expect(errors).toEqual([]);
    expect([cli.hyper.method, cli.hyper.beta]).toEqual(['dpo', 0.25]);
    const bad: string[] = [];
    parseRunFlags({ method: 'ppo', beta: '0' }, new Set(), bad, 'format');
    expect(bad.join('\n')).toMatch(/--method ppo: must be sft, dpo, ipo, orpo/);
    expect(bad.join('\n')).toMatch(/--beta 0: must be greater than 0/);
    const form = { ...defaultSettings(), method: 'dpo' as const };
    form.numbers.beta = '0';
    expect(validateSettings(form, { model: null, examples: null }).beta).toBe('Beta must be greater than 0');
    // SFT does not read beta: the page hides it and does not refuse an SFT run for it.
    expect(validateSettings({ ...form, method: 'sft' }, { model: null, examples: null }).beta).toBeUndefined();
  });

  it('the validation share and the target groups exist once, and every reader uses them', () => {
    expect(maxValidationExamples(50)).toBe(10);
    const form = defaultSettings();
    form.numbers.validationExamples = '11';
    const model = { spec: { ...PRESETS['tiny'], hiddenSize: 64, intermediateSize: 128, maxPositionEmbeddings: 512 } };
    expect(validateSettings(form, { model, examples: 50 }).validationExamples).toContain('at most 10');
    expect(parseTargets('attention')).toEqual([...TARGET_GROUPS.attention]);
    expect(parseTargets('mlp')).toEqual([...TARGET_GROUPS.mlp]);
  });
});
