import { describe, expect, it } from 'vitest';
import { proposeMapping } from './propose-mapping';
import { detectFormat, parseColumnMapping } from './formats';

describe('proposeMapping', () => {
  it('question/answer → completion (prompt=question, completion=answer), and the mapping then detects', () => {
    const rec = { id: 3, question: 'What is 2+2?', answer: '4' };
    const p = proposeMapping(rec)!;
    expect(p).toEqual({ format: 'completion', mapping: { prompt: 'question', completion: 'answer' }, text: 'prompt=question,completion=answer' });
    expect(detectFormat(rec, parseColumnMapping(p.text))).toBe('completion');
  });
  it('a list of from/value turns under another name → sharegpt; role/content → messages', () => {
    expect(proposeMapping({ dialog: [{ from: 'human', value: 'hi' }] })).toMatchObject({ format: 'sharegpt', text: 'conversations=dialog' });
    expect(proposeMapping({ chat: [{ role: 'user', content: 'hi' }], source: 'x' })).toMatchObject({ format: 'messages', text: 'messages=chat' });
  });
  it('one string column → text; nothing for a known format or no fit', () => {
    expect(proposeMapping({ body: 'abc', n: 1 })).toMatchObject({ format: 'text', text: 'text=body' });
    expect(proposeMapping({ prompt: 'a', completion: 'b' })).toBeNull();
    expect(proposeMapping({ conversations: [{ from: 'human', value: 'hi' }] })).toBeNull();
    expect(proposeMapping({ a: 'x', b: 'y' })).toBeNull();
    expect(proposeMapping([1, 2])).toBeNull();
  });
});
