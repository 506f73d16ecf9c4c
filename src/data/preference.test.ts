import { describe, expect, it } from 'vitest';
import { DatasetError, formatIssue } from './errors';
import { cutPair, pairSides, preparePreferenceDataset, type PreparedPreference } from './preference';
import { loadTokenizerDir, tokenizerDirFor } from './testdata/fixtures';

const qwen3 = loadTokenizerDir(tokenizerDirFor('qwen3-tokenizer'));
const jsonl = (records: unknown[]) => records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');
const prepare = (records: unknown[], opts = {}): Promise<PreparedPreference> => preparePreferenceDataset(jsonl(records), qwen3, { fileName: 'pairs.jsonl', ...opts });

const refused = async (p: Promise<unknown>): Promise<DatasetError> => {
  const e: unknown = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
};

/** The trained tokens of a side, decoded. */
const trained = (s: { inputIds: Int32Array; trainMask: Uint8Array }) => qwen3.decode(Array.from(s.inputIds).filter((_, i) => s.trainMask[i] === 1));
const untrained = (s: { inputIds: Int32Array; trainMask: Uint8Array }) => qwen3.decode(Array.from(s.inputIds).filter((_, i) => s.trainMask[i] === 0));

describe('preference data', () => {
  it('standard form: the prompt untrained, each completion and EOS trained, the prompt shared', async () => {
    const d = await prepare([{ prompt: 'What is 2+2?', chosen: ' Four.', rejected: ' Five.' }]);
    expect(d.stats.shape).toBe('standard');
    const [p] = d.pairs;
    expect(untrained(p.chosen)).toBe('What is 2+2?');
    expect(untrained(p.rejected)).toBe('What is 2+2?');
    expect(trained(p.chosen)).toBe(` Four.${qwen3.decode([qwen3.eosId!])}`);
    expect(trained(p.rejected)).toBe(` Five.${qwen3.decode([qwen3.eosId!])}`);
    expect(d.stats.sequences).toBe(2);
  });

  it('conversational form: the prompt rendered with the generation prompt, completions with their end of turn', async () => {
    const d = await prepare([
      { prompt: [{ role: 'user', content: 'Say hi' }], chosen: [{ role: 'assistant', content: 'Hi!' }], rejected: [{ role: 'assistant', content: 'No.' }] },
    ]);
    expect(d.stats.shape).toBe('conversational');
    const [p] = d.pairs;
    expect(untrained(p.chosen)).toBe(qwen3.template.render([{ role: 'user', content: 'Say hi' }], true));
    expect(trained(p.chosen)).toContain('Hi!');
    expect(trained(p.chosen)).toContain('<|im_end|>');
    expect(trained(p.rejected)).toContain('No.');
    expect(untrained(p.chosen) + trained(p.chosen)).toBe(qwen3.template.render([{ role: 'user', content: 'Say hi' }, { role: 'assistant', content: 'Hi!' }]));
  });

  it('full conversations sharing a prefix (HH / UltraFeedback): the prompt is the shared turns', async () => {
    const user = { role: 'user', content: 'Name a colour' };
    const d = await prepare([{ prompt: 'Name a colour', chosen: [user, { role: 'assistant', content: 'Blue' }], rejected: [user, { role: 'assistant', content: 'Seven' }] }]);
    expect(d.stats.shape).toBe('implicit');
    expect(untrained(d.pairs[0].chosen)).toBe(qwen3.template.render([{ role: 'user', content: 'Name a colour' }], true));
    expect(trained(d.pairs[0].rejected)).toContain('Seven');
    // HH as text: the common prefix, the space before the answers left to them.
    const hh = await prepare([{ chosen: '\n\nHuman: hi\n\nAssistant: hello there', rejected: '\n\nHuman: hi\n\nAssistant: go away' }]);
    expect(untrained(hh.pairs[0].chosen)).toBe('\n\nHuman: hi\n\nAssistant:');
    expect(trained(hh.pairs[0].chosen).startsWith(' hello there')).toBe(true);
  });

  it('names the line and the field of every bad pair; --skip-invalid skips them', async () => {
    const records = [
      { prompt: 'a', chosen: 'b', rejected: 'c' },
      { prompt: 'a', chosen: 'same', rejected: 'same' },
      { prompt: 'a', chosen: 'b' },
      { prompt: 'a', chosen: '  ', rejected: 'c' },
      '{"prompt": "broken',
      { prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'robot', content: 'x' }], rejected: [{ role: 'assistant', content: 'y' }] },
      { prompt: 'a', chosen: ['b'], rejected: 'c' },
    ];
    const e = await refused(prepare(records));
    expect(e.issues.map(formatIssue)).toEqual([
      "line 2: fields 'chosen' and 'rejected' are identical",
      "line 3: missing field 'rejected'",
      "line 4: field 'chosen' is empty",
      expect.stringMatching(/^line 5: /),
      expect.stringMatching(/^line 6: field 'chosen': turn 2: unknown role 'robot'/),
      "line 7: fields 'chosen' and 'rejected' must both be strings or both lists of turns",
    ]);
    const kept = await prepare(records, { skipInvalid: true });
    expect(kept.pairs.map((p) => p.line)).toEqual([1]);
    expect(kept.stats.skipped).toBe(6);
  });

  it('the SFT pipeline names preference data for what it is', async () => {
    const { prepareDataset } = await import('./pipeline');
    const e = await refused(prepareDataset(jsonl([{ prompt: 'a', chosen: 'b', rejected: 'c' }]), qwen3, { fileName: 'pairs.jsonl' }));
    expect(formatIssue(e.issues[0])).toMatch(/^line 1: this is preference data \(chosen \/ rejected pairs\)/);
  });

  it("length rules as TRL's: the prompt cut from its start to maxPromptLength, the completions to maxLength", () => {
    const ids = { prompt: [1, 2, 3, 4, 5, 6], chosen: [7, 8, 9, 10], rejected: [11] };
    const s = pairSides(ids, 6, 3);
    expect(Array.from(s.chosen.inputIds)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(Array.from(s.chosen.trainMask)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(s.rejected.inputIds)).toEqual([4, 5, 6, 11]);
    expect(s.truncated).toBe(true);
    const whole = pairSides(ids);
    expect([whole.chosen.inputIds.length, whole.truncated]).toEqual([10, false]);
  });
});

describe('cutPair', () => {
  const records = [
    { prompt: [{ role: 'system', content: 'Be brief and kind to everyone.' }, { role: 'user', content: 'Say hi to the whole wide world, please' }], chosen: [{ role: 'assistant', content: 'Hi, world! Nice to meet you all.' }], rejected: [{ role: 'assistant', content: 'No.' }] },
    { prompt: 'A long prompt of many words that goes on and on and on', chosen: ' a long chosen answer of several words', rejected: ' short' },
  ];
  it.each([[24, 10], [16, 8], [12, undefined]])('gives the pairs preparing with max length %s, max prompt length %s gives', async (maxLength, maxPromptLength) => {
    const full = await prepare(records);
    const direct = await prepare(records, { maxLength, maxPromptLength });
    const cut = full.pairs.map((p) => cutPair(p, maxLength, maxPromptLength));
    expect(cut).toEqual(direct.pairs);
    expect(cut.some((p) => p.truncated)).toBe(true);
  });
  it('refuses a max prompt length not below the max length', async () => {
    const [p] = (await prepare(records)).pairs;
    expect(() => cutPair(p, 16, 16)).toThrow(/maxPromptLength \(16\) must be below maxLength \(16\)/);
  });
});
