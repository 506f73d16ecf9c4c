import { describe, expect, it } from 'vitest';
import { RecordError } from './errors';
import { alpacaPrompt, detectFormat, parseColumnMapping, toExample, type DataFormat } from './formats';

const chat = [
  { role: 'user', content: 'hi' },
  { role: 'assistant', content: 'hello' },
];

function reason(record: unknown, format: DataFormat, mapping = {}): string {
  try {
    toExample(record, format, mapping);
  } catch (e) {
    expect(e).toBeInstanceOf(RecordError);
    return (e as Error).message;
  }
  throw new Error('expected a RecordError');
}

describe('detectFormat', () => {
  it('recognizes each format', () => {
    expect(detectFormat({ text: 'x' })).toBe('text');
    expect(detectFormat({ prompt: 'p', completion: 'c' })).toBe('completion');
    expect(detectFormat({ instruction: 'i', input: '', output: 'o' })).toBe('alpaca');
    expect(detectFormat({ messages: chat })).toBe('messages');
    expect(detectFormat({ conversations: [{ from: 'human', value: 'hi' }] })).toBe('sharegpt');
    expect(detectFormat({ messages: [{ from: 'human', value: 'hi' }] })).toBe('sharegpt');
    expect(detectFormat({ conversations: chat })).toBe('messages');
    expect(detectFormat({ question: 'q' })).toBeNull();
    expect(detectFormat('a string')).toBeNull();
  });
  it('uses the column mapping', () => {
    const m = parseColumnMapping('prompt=question, completion=answer');
    expect(m).toEqual({ prompt: 'question', completion: 'answer' });
    expect(detectFormat({ question: 'q', answer: 'a' }, m)).toBe('completion');
    expect(toExample({ question: 'q', answer: 'a' }, 'completion', m)).toEqual({
      kind: 'completion',
      prompt: 'q',
      completion: 'a',
    });
    expect(() => parseColumnMapping('bogus=x')).toThrow(/unknown field/);
  });
});

describe('toExample', () => {
  it('text, completion, alpaca', () => {
    expect(toExample({ text: 'abc' }, 'text')).toEqual({ kind: 'text', text: 'abc' });
    expect(toExample({ prompt: '', completion: 'c' }, 'completion')).toEqual({
      kind: 'completion',
      prompt: '',
      completion: 'c',
    });
    expect(toExample({ instruction: 'Add', input: '1 2', output: '3' }, 'alpaca')).toEqual({
      kind: 'completion',
      prompt: '### Instruction:\nAdd\n\n### Input:\n1 2\n\n### Response:\n',
      completion: '3',
    });
    expect(alpacaPrompt('Add', '')).toBe('### Instruction:\nAdd\n\n### Response:\n');
    expect(toExample({ instruction: 'Add', output: '3' }, 'alpaca')).toMatchObject({ kind: 'completion' });
  });

  it('messages and sharegpt (roles mapped), a CSV cell holding JSON', () => {
    expect(toExample({ messages: [{ role: 'system', content: 's' }, ...chat] }, 'messages')).toEqual({
      kind: 'chat',
      messages: [{ role: 'system', content: 's' }, ...chat],
    });
    expect(
      toExample(
        {
          conversations: [
            { from: 'system', value: 's' },
            { from: 'human', value: 'hi' },
            { from: 'gpt', value: 'hello' },
          ],
        },
        'sharegpt',
      ),
    ).toEqual({ kind: 'chat', messages: [{ role: 'system', content: 's' }, ...chat] });
    expect(toExample({ messages: JSON.stringify(chat) }, 'messages')).toEqual({ kind: 'chat', messages: chat });
    expect(
      toExample({ dialog: [{ speaker: 'user', text: 'hi' }, { speaker: 'assistant', text: 'yo' }] }, 'messages', {
        messages: 'dialog',
        role: 'speaker',
        content: 'text',
      }),
    ).toEqual({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] });
  });

  it('reports missing fields and wrong types', () => {
    expect(reason({ txt: 'x' }, 'text')).toBe("missing field 'text'");
    expect(reason({ text: 3 }, 'text')).toBe("field 'text' must be a string, got a number");
    expect(reason({ text: '  ' }, 'text')).toBe("field 'text' is empty");
    expect(reason([1], 'text')).toBe('expected a JSON object, got an array');
    expect(reason({ prompt: 'p' }, 'completion')).toBe("missing field 'completion'");
    expect(reason({ instruction: 'i', output: null }, 'alpaca')).toBe("field 'output' must be a string, got null");
    expect(reason({ messages: {} }, 'messages')).toBe("field 'messages' must be a list of turns, got an object");
  });

  it('reports empty turns, unknown roles and bad conversations', () => {
    expect(reason({ messages: [] }, 'messages')).toMatch(/empty conversation/);
    expect(reason({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: ' ' }] }, 'messages')).toBe(
      'turn 2 (assistant): empty turn',
    );
    expect(reason({ messages: [{ role: 'bot', content: 'a' }] }, 'messages')).toMatch(/turn 1: unknown role 'bot'/);
    expect(reason({ conversations: [{ from: 'robot', value: 'a' }] }, 'sharegpt')).toMatch(/unknown role 'robot'/);
    expect(reason({ messages: [{ role: 'user', content: 1 }] }, 'messages')).toMatch(/'content' must be a string/);
    expect(reason({ messages: [{ content: 'x' }] }, 'messages')).toBe("turn 1: missing field 'role'");
    expect(reason({ messages: ['hi'] }, 'messages')).toBe('turn 1: expected an object, got a string');
    expect(
      reason({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }, 'messages'),
    ).toMatch(/non-alternating conversation: turn 2 is 'user' after 'user'/);
    expect(reason({ messages: [{ role: 'assistant', content: 'a' }] }, 'messages')).toMatch(/non-alternating/);
    expect(reason({ messages: [...chat, { role: 'system', content: 's' }] }, 'messages')).toMatch(/system message/);
    expect(reason({ messages: [{ role: 'user', content: 'a' }] }, 'messages')).toMatch(/no assistant turn/);
  });
});
