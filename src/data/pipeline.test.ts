import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue } from './errors';
import { prepareDataset, type PrepareOptions } from './pipeline';
import { tokenView } from './stats';
import { loadReference, loadTokenizerDir, refused, tokenizerDirFor } from './testdata/fixtures';
import { ModelTokenizer } from './tokenizer';

const tiny = loadTokenizerDir(tokenizerDirFor('tiny-qwen3'));
const qwen3 = loadTokenizerDir(tokenizerDirFor('qwen3-tokenizer'));

const chatLine = (u: string, a: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: u },
      { role: 'assistant', content: a },
    ],
  });

const jsonl = (opts: PrepareOptions = {}) => ({ fileName: 'data.jsonl', ...opts });

describe('bad input', () => {
  const lines = [
    chatLine('a', 'b'),
    chatLine('c', 'd'),
    '{"messages": [{"role": "user", "content": "x"}, ', // line 3: invalid JSON
    chatLine('e', 'f'),
    JSON.stringify({ messages: [{ role: 'user', content: 'x' }, { role: 'robot', content: 'y' }] }), // line 5
    chatLine('g', 'h'),
  ].join('\n');

  it('refuses a file whose lines 3 and 5 are broken, naming both', async () => {
    const e = await refused(prepareDataset(lines, tiny, jsonl()));
    expect(e.issues.map((i) => i.line)).toEqual([3, 5]);
    expect(e.issues.map(formatIssue)).toEqual([
      expect.stringMatching(/^line 3: invalid JSON/),
      "line 5: turn 2: unknown role 'robot' (expected system, user, assistant)",
    ]);
    expect(e.message).toMatch(/refused: 2 invalid records/);
  });

  it('skips and counts them with skipInvalid', async () => {
    const ds = await prepareDataset(lines, tiny, jsonl({ skipInvalid: true }));
    expect([...ds.examples].map((e) => e.line)).toEqual([1, 2, 4, 6]);
    expect(ds.stats.skipped).toBe(2);
    expect(ds.skipped.map((i) => i.line)).toEqual([3, 5]);
    expect(ds.warnings).toContain('2 invalid records were skipped');
  });

  it('an empty dataset, a blank file, an empty JSON array', async () => {
    for (const [src, name] of [
      ['', 'a.jsonl'],
      ['\n  \n\n', 'a.jsonl'],
      ['[]', 'a.json'],
      ['text\n', 'a.csv'],
    ]) {
      const e = await refused(prepareDataset(src, tiny, { fileName: name }));
      expect(e.message).toMatch(/the dataset is empty/);
    }
  });

  it('a binary file', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    const e = await refused(prepareDataset(png, tiny, jsonl()));
    expect(e.message).toMatch(/binary file/);
  });

  it('all records invalid', async () => {
    const e = await refused(prepareDataset('{"text": 1}\n{"text": 2}\n', tiny, jsonl({ skipInvalid: true })));
    expect(e.message).toMatch(/no valid examples: all 2 records were invalid/);
  });

  it('an unknown record shape says what is expected', async () => {
    const e = await refused(prepareDataset('{"question": "q", "answer": "a"}\n', tiny, jsonl()));
    expect(e.issues[0].reason).toMatch(/no known fields \(found: question, answer\); expected text/);
  });

  it('a record of another format than the first', async () => {
    const e = await refused(prepareDataset(`${chatLine('a', 'b')}\n{"text": "x"}\n`, tiny, jsonl()));
    expect(formatIssue(e.issues[0])).toBe("line 2: missing field 'messages'");
  });

  it('an example with 0 trainable tokens', async () => {
    // A template that never writes assistant turns: nothing to train.
    const cfg = JSON.parse(readFileSync(join(tokenizerDirFor('tiny-qwen3'), 'tokenizer_config.json'), 'utf8'));
    cfg.chat_template = "{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}";
    const tok = ModelTokenizer.load({
      tokenizerJson: JSON.parse(readFileSync(join(tokenizerDirFor('tiny-qwen3'), 'tokenizer.json'), 'utf8')),
      tokenizerConfig: cfg,
    });
    const e = await refused(prepareDataset(chatLine('hello', 'world') + '\n', tok, jsonl()));
    expect(formatIssue(e.issues[0])).toMatch(/^line 1: 0 trainable tokens/);
  });
});

describe('formats end to end', () => {
  it('text: encode ids + EOS, all trained', async () => {
    const ds = await prepareDataset('hello world\nsecond line\n', tiny, { fileName: 'a.txt' });
    expect(ds.stats.format).toBe('text');
    const ex = ds.examples.example(0);
    expect(Array.from(ex.inputIds)).toEqual([...tiny.encode('hello world'), tiny.eosId]);
    expect(ex.trainMask.every((v) => v === 1)).toBe(true);
  });

  it('completion: the prompt is masked, the completion and EOS trained', async () => {
    const ds = await prepareDataset('{"prompt": "Q: 2+2?\\nA:", "completion": " 4"}\n', tiny, jsonl());
    const p = tiny.encode('Q: 2+2?\nA:');
    const c = tiny.encode(' 4');
    const ex = ds.examples.example(0);
    expect(Array.from(ex.inputIds)).toEqual([...p, ...c, tiny.eosId]);
    expect(Array.from(ex.trainMask)).toEqual([...p.map(() => 0), ...c.map(() => 1), 1]);
    const all = await prepareDataset('{"prompt": "Q", "completion": "A"}\n', tiny, jsonl({ trainOn: 'all' }));
    expect(all.examples.example(0).trainMask.every((v) => v === 1)).toBe(true);
  });

  it('alpaca from CSV, sharegpt from a JSON array, with the same chat ids as messages', async () => {
    const csv = 'instruction,input,output\n"Add, please","1 2",3\n';
    const ds = await prepareDataset(csv, tiny, { fileName: 'a.csv' });
    expect(ds.stats.format).toBe('alpaca');
    const prompt = '### Instruction:\nAdd, please\n\n### Input:\n1 2\n\n### Response:\n';
    expect(Array.from(ds.examples.example(0).inputIds)).toEqual([...tiny.encode(prompt), ...tiny.encode('3'), tiny.eosId]);

    const share = JSON.stringify([{ conversations: [{ from: 'human', value: 'hi' }, { from: 'gpt', value: 'yo' }] }]);
    const a = await prepareDataset(share, tiny, { fileName: 'a.json' });
    const b = await prepareDataset(chatLine('hi', 'yo'), tiny, jsonl());
    expect(a.stats.format).toBe('sharegpt');
    expect(Array.from(a.examples.example(0).inputIds)).toEqual(Array.from(b.examples.example(0).inputIds));
    expect(Array.from(a.examples.example(0).trainMask)).toEqual(Array.from(b.examples.example(0).trainMask));
  });

  it('an explicit format and mapping', async () => {
    const ds = await prepareDataset('{"q": "a", "r": "b"}\n', tiny, jsonl({ format: 'completion', mapping: { prompt: 'q', completion: 'r' } }));
    expect(ds.examples.length).toBe(1);
    const e = await refused(prepareDataset('{"text": "x"}\n', tiny, jsonl({ format: 'messages' })));
    expect(e.issues[0].reason).toBe("missing field 'messages'");
  });
});

describe('chat templates', () => {
  it('a model without a chat template gets ChatML and a warning', async () => {
    const dir = tokenizerDirFor('tiny-llama');
    const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    delete cfg.chat_template;
    const tok = ModelTokenizer.load({ tokenizerJson: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), tokenizerConfig: cfg });
    expect(tok.templateIsDefault).toBe(true);
    const ref = loadReference('tiny-llama');
    const ds = await prepareDataset(ref.chat.map((c) => JSON.stringify({ messages: c.messages })).join('\n'), tok, jsonl());
    expect(ds.stats.defaultChatTemplate).toBe(true);
    expect(ds.warnings.some((w) => /no chat template.*ChatML/.test(w))).toBe(true);
    [...ds.examples].forEach((ex, i) => {
      expect(Array.from(ex.inputIds)).toEqual(ref.chat[i].ids);
      expect(Array.from(ex.trainMask)).toEqual(ref.chat[i].assistant_masks);
    });
    // Text data never mentions the chat template.
    const text = await prepareDataset('just text\n', tok, { fileName: 'a.txt' });
    expect(text.warnings).toEqual([]);
  });

  it('Qwen3 (no generation tags): masks stay right when the normalizer changes the text', async () => {
    // "e\u0301" is NFD: the NFC normalizer rewrites it, so offsets are recovered by tokenizing pieces.
    const ds = await prepareDataset(chatLine('Cafe\u0301?', 'Oui, cafe\u0301.') + '\n' + chatLine('Café?', 'Oui, café.'), qwen3, jsonl());
    const [a, b] = ds.examples;
    expect(Array.from(a.inputIds)).toEqual(Array.from(b.inputIds));
    expect(Array.from(a.trainMask)).toEqual(Array.from(b.trainMask));
    const trained = Array.from(b.inputIds).filter((_, i) => b.trainMask[i]);
    expect(qwen3.decode(trained)).toBe('<think>\n\n</think>\n\nOui, café.<|im_end|>');
  });

  it('multi-turn Qwen3: every assistant turn trained, headers and newlines not', async () => {
    const rec = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'One?' },
        { role: 'assistant', content: '1' },
        { role: 'user', content: 'Two?' },
        { role: 'assistant', content: '<think>\ncount\n</think>\n\n2' },
      ],
    };
    const ds = await prepareDataset(JSON.stringify(rec), qwen3, jsonl());
    const ex = ds.examples.example(0);
    const view = tokenView(ex, qwen3);
    const trainedText = view.filter((t) => t.trained).map((t) => t.text).join('|');
    expect(trainedText).toBe(['1', '<|im_end|>', '<think>', '\n', 'count', '\n', '</think>', '\n\n', '2', '<|im_end|>'].join('|'));
  });
});

describe('truncation and stats', () => {
  it('cuts to max length; a cut assistant turn is masked, not trained without its end', async () => {
    const long = 'word '.repeat(50).trim();
    const full = await prepareDataset(chatLine('hi', long), tiny, jsonl());
    const n = full.examples.example(0).inputIds.length;
    const firstTrained = full.examples.example(0).trainMask.indexOf(1);
    // Cut inside the assistant turn: the turn is masked -> nothing left -> dropped with a warning.
    const cut = await prepareDataset(`${chatLine('hi', long)}\n${chatLine('a', 'b')}`, tiny, jsonl({ maxLength: firstTrained + 5 }));
    expect(cut.stats.truncated).toBe(1);
    expect(cut.stats.droppedAfterTruncation).toBe(1);
    expect(cut.stats.maskedPartialTurns).toBe(1);
    expect([...cut.examples].map((e) => e.line)).toEqual([2]);
    expect(cut.warnings.join('\n')).toMatch(/dropped \(line 1\)/);
    // Two turns: the complete first turn is kept and trained, the cut second one masked.
    const two = JSON.stringify({
      messages: [
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
        { role: 'assistant', content: long },
      ],
    });
    const whole = (await prepareDataset(two, tiny, jsonl())).examples.example(0);
    const m = whole.trainMask;
    const secondStart = m.indexOf(1, m.indexOf(0, m.indexOf(1)));
    const t = await prepareDataset(two, tiny, jsonl({ maxLength: secondStart + 3 }));
    const ex = t.examples.example(0);
    expect(ex.truncated).toBe(true);
    expect(ex.inputIds.length).toBe(secondStart + 3);
    expect(Array.from(ex.trainMask)).toEqual(Array.from(m.slice(0, secondStart)).concat([0, 0, 0]));
    expect(t.stats.maskedPartialTurns).toBe(1);
    // Text is cut plainly.
    const txt = await prepareDataset(long, tiny, { fileName: 'a.txt', maxLength: 10 });
    expect(txt.examples.example(0).inputIds.length).toBe(10);
    expect(txt.examples.example(0).trainMask.every((v) => v === 1)).toBe(true);
    expect(n).toBeGreaterThan(firstTrained + 5);
  });

  it('counts, histogram, token view, batches', async () => {
    const data = Array.from({ length: 30 }, (_, i) => chatLine(`question ${i}`, 'answer '.repeat(i + 1))).join('\n');
    const progress: number[] = [];
    const ds = await prepareDataset(data, tiny, jsonl({ onProgress: (p) => progress.push(p.examples) }));
    const s = ds.stats;
    expect(s.examples).toBe(30);
    expect(s.tokens).toBe([...ds.examples].reduce((a, e) => a + e.inputIds.length, 0));
    expect(s.trainedTokens).toBe([...ds.examples].reduce((a, e) => a + e.trainMask.reduce((x, y) => x + y, 0), 0));
    expect(s.histogram.counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(s.histogram.edges.length).toBe(s.histogram.counts.length + 1);
    expect(s.histogram.edges[s.histogram.edges.length - 1]).toBeGreaterThan(s.maxTokens);
    expect(s.minTokens).toBeLessThan(s.maxTokens);
    expect(progress.at(-1)).toBe(30);
    const view = tokenView(ds.examples.example(0), tiny);
    expect(view.map((t) => t.text).join('')).toBe(tiny.template.render([{ role: 'user', content: 'question 0' }, { role: 'assistant', content: 'answer ' }]));
    expect(view.filter((t) => t.trained).map((t) => t.text).join('')).toBe('answer <|im_end|>');
  });
});
