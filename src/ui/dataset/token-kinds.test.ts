import { describe, expect, it } from 'vitest';
import { tokenKinds } from './TokenPreview';
import { pairTokenKinds } from './PairPreview';

const row = [true, true, false, true].map((trained, id) => ({ id, text: `t${id}`, trained }));

describe('tokenKinds', () => {
  it('marks what training does with each token; packed, the first token is not a target', () => {
    expect(tokenKinds(row, 3, false)).toEqual(['trained', 'trained', 'masked', 'cut']);
    expect(tokenKinds(row, 3, false, true)).toEqual(['masked', 'trained', 'masked', 'cut']);
  });
});

describe('pairTokenKinds', () => {
  const toks = (n: number, trained: boolean) => Array.from({ length: n }, (_, id) => ({ id, text: `t${id}`, trained }));
  const pair = { line: 3, prompt: toks(6, false), chosen: toks(4, true), rejected: toks(2, true) };

  it('cuts the prompt from its start and each completion past Max length, as pairSides does', () => {
    // Max length 8, prompt at most 4: the prompt keeps its last 4, each completion at most 4.
    expect(pairTokenKinds(pair, 8, 4)).toEqual({
      prompt: ['cut', 'cut', 'masked', 'masked', 'masked', 'masked'],
      chosen: ['trained', 'trained', 'trained', 'trained'],
      rejected: ['trained', 'trained'],
    });
    // Max length 7 (prompt default 3): 3 prompt tokens kept, the completions keep 4.
    expect(pairTokenKinds(pair, 7).chosen).toEqual(['trained', 'trained', 'trained', 'trained']);
    expect(pairTokenKinds(pair, 6).chosen).toEqual(['trained', 'trained', 'trained', 'cut']);
  });
});
