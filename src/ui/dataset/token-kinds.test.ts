import { describe, expect, it } from 'vitest';
import { tokenKinds } from './TokenPreview';

const row = [true, true, false, true].map((trained, id) => ({ id, text: `t${id}`, trained }));

describe('tokenKinds', () => {
  it('marks what training does with each token; packed, the first token is not a target', () => {
    expect(tokenKinds(row, 3, false)).toEqual(['trained', 'trained', 'masked', 'cut']);
    expect(tokenKinds(row, 3, false, true)).toEqual(['masked', 'trained', 'masked', 'cut']);
  });
});
