// Chat-template rendering and {% generation %} spans against Python jinja2 configured as transformers
// does (testdata/generation-templates.py wrote the expected values).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from './formats';
import { assistantSpansByPrefix, CHATML_TEMPLATE, ChatTemplate } from './template';
import { TemplateBudgetError } from './template-budget';
import { DatasetError } from './errors';

interface Case {
  template: string;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
  spans: [number, number][];
}
const cases = JSON.parse(readFileSync(join(__dirname, 'testdata/generation-templates.json'), 'utf8')) as Case[];

describe('generation tags (whitespace control, trim/lstrip blocks) like transformers', () => {
  it.each(cases.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
    const t = new ChatTemplate(c.template, { bos_token: '<s>', eos_token: '</s>' });
    expect(t.hasGenerationTags).toBe(true);
    expect(t.render(c.messages, c.add_generation_prompt)).toBe(c.text);
    if (!c.add_generation_prompt) {
      const r = t.renderWithGenerationSpans(c.messages)!;
      expect(r.text).toBe(c.text);
      expect(r.spans).toEqual(c.spans.filter(([a, b]) => b > a));
    }
  });
});

describe('ChatML default', () => {
  const t = new ChatTemplate(CHATML_TEMPLATE);
  const msgs: ChatMessage[] = [
    { role: 'system', content: 's' },
    { role: 'user', content: 'u' },
    { role: 'assistant', content: 'a' },
  ];
  it('renders ChatML and marks content + <|im_end|>', () => {
    const r = t.renderWithGenerationSpans(msgs)!;
    expect(r.text).toBe('<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n');
    expect(r.spans.map(([a, b]) => r.text.slice(a, b))).toEqual(['a<|im_end|>']);
    expect(t.render(msgs.slice(0, 2), true).endsWith('<|im_start|>assistant\n')).toBe(true);
  });
  it('prefix spans agree, also when the content contains the next message text', () => {
    const m: ChatMessage[] = [
      { role: 'user', content: 'ok' },
      { role: 'assistant', content: 'ok then ok' },
      { role: 'user', content: 'ok' },
      { role: 'assistant', content: 'fine' },
    ];
    const full = t.render(m);
    const spans = assistantSpansByPrefix(t, m, full, ['<|im_end|>']);
    expect(spans.map(([a, b]) => full.slice(a, b))).toEqual(['ok then ok<|im_end|>', 'fine<|im_end|>']);
    expect(spans).toEqual(t.renderWithGenerationSpans(m)!.spans);
  });
  it('a template error becomes a record error', () => {
    const bad = new ChatTemplate("{{ raise_exception('roles must alternate') }}");
    expect(() => bad.render(msgs)).toThrow(/chat template failed: .*roles must alternate/);
  });
});

describe('chat templates are code: rendered within a budget', () => {
  const chat: ChatMessage[] = [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello' },
  ];
  const refused = (src: string): unknown => {
    try {
      new ChatTemplate(src).render(chat);
    } catch (e) {
      return e;
    }
    return null;
  };

  it('refuses a huge range before building it', () => {
    const e = refused('{% for i in range(10**9) %}x{% endfor %}');
    expect(e).toBeInstanceOf(TemplateBudgetError);
    expect(e).toBeInstanceOf(DatasetError); // the whole dataset is refused, not one record
    expect(refused('{% for i in range(16000000) %}{% endfor %}')).toBeInstanceOf(TemplateBudgetError);
  });

  it('refuses nested loops and runaway strings by step and size', () => {
    const nested = refused('{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}');
    expect(String(nested)).toMatch(/more than 100000 steps/);
    const doubling = refused("{% set s = 'ab' %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}");
    expect(String(doubling)).toMatch(/builds a string of \d+ items, more than the 8388608 allowed/);
    expect(refused("{{ 'x' | indent(100000000) }}")).toBeInstanceOf(TemplateBudgetError);
  });

  it('refuses a template that does not compile with a typed error', () => {
    expect(() => new ChatTemplate('{% for m in messages %}{{ m')).toThrow(DatasetError);
    expect(() => new ChatTemplate('{% endfor %}')).toThrow(/the chat template cannot be compiled/);
  });

  it('still renders real templates and the library globals', () => {
    expect(new ChatTemplate(CHATML_TEMPLATE).render(chat)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n');
    expect(new ChatTemplate('{% for i in range(2, 8, 3) %}{{ i }}{% endfor %}{{ range(3)|length }}').render(chat)).toBe('253');
    expect(new ChatTemplate("{{ strftime_now('%Y') }}").render(chat)).toMatch(/^\d{4}$/);
  });
});
