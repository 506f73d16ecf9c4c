// Acceptance against what Python transformers/tokenizers computed (../shared/fixtures/reference).
import { describe, expect, it } from 'vitest';
import { prepareDataset } from './pipeline';
import { assistantSpansByPrefix, ChatTemplate } from './template';
import { loadReference, loadTokenizerDir, referenceNames, tokenizerDirFor } from './testdata/fixtures';

const names = referenceNames();

it('finds the reference fixtures', () => {
  expect(names).toEqual(expect.arrayContaining(['qwen3-tokenizer', 'tiny-llama', 'tiny-qwen2', 'tiny-qwen3']));
});

/**
 * The assistant mask transformers gives with a template that has {% generation %} tags around
 * "content + end-of-turn": from the first token after the `<|im_start|>assistant\n` header through
 * the next end-of-turn token. Used where the reference has no usable mask (Qwen3's template has no
 * tags, so transformers returns all zeros).
 */
function expectedChatmlMask(ids: number[], imStart: number, assistant: number[], imEnd: number): number[] {
  const mask = new Array<number>(ids.length).fill(0);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== imStart) continue;
    const h = i + 1;
    if (!assistant.every((a, k) => ids[h + k] === a)) continue;
    let j = h + assistant.length;
    for (; j < ids.length && ids[j] !== imEnd; j++) mask[j] = 1;
    if (j < ids.length) mask[j] = 1;
  }
  return mask;
}

describe.each(names)('%s', (name) => {
  const ref = loadReference(name);
  const tok = loadTokenizerDir(tokenizerDirFor(name));

  it('encodes plain strings to the Python ids', () => {
    for (const e of ref.encode) expect(tok.encode(e.text), JSON.stringify(e.text)).toEqual(e.ids);
  });

  it('text examples are the encode ids (+ EOS)', async () => {
    const lines = ref.encode.filter((e) => e.text.trim() && !/[\r\n]/.test(e.text));
    const jsonl = lines.map((e) => JSON.stringify({ text: e.text })).join('\n');
    const ds = await prepareDataset(jsonl, tok, { fileType: 'jsonl' });
    expect(ds.examples.length).toBe(lines.length);
    [...ds.examples].forEach((ex, i) => {
      const ids = Array.from(ex.inputIds);
      expect(ids.slice(0, lines[i].ids.length)).toEqual(lines[i].ids);
      expect(ids.length - lines[i].ids.length).toBeLessThanOrEqual(1);
      if (ids.length > lines[i].ids.length) expect(ids[ids.length - 1]).toBe(tok.eosId);
    });
  });

  it('renders the chat template like transformers (with and without generation prompt)', () => {
    for (const c of ref.chat) {
      expect(tok.template.render(c.messages)).toBe(c.text);
      if (c.text_with_generation_prompt !== undefined) {
        expect(tok.template.render(c.messages.slice(0, -1), true)).toBe(c.text_with_generation_prompt);
      }
    }
  });

  it('prepares the conversations to the reference ids and assistant masks', async () => {
    const jsonl = ref.chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n') + '\n';
    const ds = await prepareDataset(jsonl, tok, { fileName: 'chat.jsonl' });
    expect(ds.stats.format).toBe('messages');
    expect([...ds.examples].map((e) => e.line)).toEqual(ref.chat.map((_, i) => i + 1));
    ref.chat.forEach((c, i) => {
      const ex = ds.examples.example(i);
      const ids = Array.from(ex.inputIds);
      expect(ids).toEqual(c.ids);
      if (c.ids_from_template) expect(ids).toEqual(c.ids_from_template);
      const mask = Array.from(ex.trainMask);
      const usable = c.assistant_masks && c.assistant_masks.some((v) => v === 1);
      if (usable) {
        expect(mask).toEqual(c.assistant_masks);
      } else {
        // No generation tags (real Qwen3): transformers gives no mask; ours must still be right.
        const id = (t: string) => tok.tokenizer.token_to_id(t)!;
        const expected = expectedChatmlMask(ids, id('<|im_start|>'), tok.encode('assistant\n'), id('<|im_end|>'));
        expect(mask).toEqual(expected);
        expect(mask.some((v) => v === 1)).toBe(true);
      }
    });
  });

  it('train-on-all trains every token', async () => {
    const jsonl = ref.chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n');
    const ds = await prepareDataset(jsonl, tok, { fileType: 'jsonl', trainOn: 'all' });
    [...ds.examples].forEach((ex, i) => {
      expect(Array.from(ex.inputIds)).toEqual(ref.chat[i].ids);
      expect(ex.trainMask.every((v) => v === 1)).toBe(true);
    });
  });
});

describe('templates with generation tags', () => {
  const tagged = names.filter((n) => n !== 'qwen3-tokenizer');
  it.each(tagged)('%s: prefix-rendered spans equal the {%% generation %%} spans', (name) => {
    const ref = loadReference(name);
    const tok = loadTokenizerDir(tokenizerDirFor(name));
    expect(tok.template.hasGenerationTags).toBe(true);
    const untagged = new ChatTemplate(tok.template.source.replace(/{%-?\s*(end)?generation\s*-?%}/g, ''), {});
    for (const c of ref.chat) {
      const tagSpans = tok.template.renderWithGenerationSpans(c.messages)!;
      expect(tagSpans.text).toBe(c.text);
      const prefix = assistantSpansByPrefix(untagged, c.messages, c.text, tok.endOfTurn);
      expect(prefix).toEqual(tagSpans.spans);
    }
  });
});
