// Chat templates rendered like transformers' apply_chat_template, with the spans of assistant turns.
import { RecordError } from './errors';
import { BudgetedTemplate, TemplateBudgetError } from './template-budget';
import type { ChatMessage } from './formats';

/**
 * The default for models without a chat template: ChatML, with `{% generation %}` tags around what
 * the assistant writes (its content and <|im_end|>). The same template as transformers' historical
 * default and the fixtures' tiny models.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}" +
  "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}" +
  "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Private-use markers written where `{% generation %}` / `{% endgeneration %}` stood.
const GEN_START = '\uE000\uE001\uE000';
const GEN_END = '\uE001\uE000\uE001';
const GEN_TAG = /{%(-?)\s*(generation|endgeneration)\s*(-?)%}/g;

export type CharSpan = [start: number, end: number];

/**
 * A compiled chat template. `context` is passed to every render (bos_token, eos_token, unk_token,
 * pad_token, additional_special_tokens, as transformers passes its special_tokens_map).
 */
export class ChatTemplate {
  readonly source: string;
  readonly hasGenerationTags: boolean;
  private readonly plain: BudgetedTemplate;
  private readonly marked: BudgetedTemplate | null;
  private readonly context: Record<string, unknown>;

  constructor(source: string, context: Record<string, unknown> = {}) {
    this.source = source;
    this.context = context;
    // @huggingface/jinja drops {% generation %} tags itself (with their whitespace control).
    this.plain = new BudgetedTemplate(source);
    GEN_TAG.lastIndex = 0;
    this.hasGenerationTags = GEN_TAG.test(source);
    // Replace each tag by a block that prints a marker: it still starts with {% and ends with %} so
    // lstrip_blocks / trim_blocks treat it exactly like the original tag.
    this.marked = this.hasGenerationTags
      ? new BudgetedTemplate(
          source.replace(
            GEN_TAG,
            (_m, l: string, kind: string, r: string) =>
              `{%${l} if true %}{{ '${kind === 'generation' ? GEN_START : GEN_END}' }}{% endif ${r}%}`,
          ),
        )
      : null;
  }

  /** What transformers' apply_chat_template(messages, tokenize=False, add_generation_prompt) returns. */
  render(messages: readonly ChatMessage[], addGenerationPrompt = false): string {
    return this.run(this.plain, messages, addGenerationPrompt);
  }

  /**
   * Renders with `{% generation %}` tags and returns the text with the char spans they enclosed
   * (what transformers' AssistantTracker records). Null when the template has no tags or a message
   * contains the private markers.
   */
  renderWithGenerationSpans(messages: readonly ChatMessage[]): { text: string; spans: CharSpan[] } | null {
    if (!this.marked) return null;
    for (const m of messages) if (m.content.includes('\uE000') || m.content.includes('\uE001')) return null;
    const raw = this.run(this.marked, messages, false);
    let text = '';
    const spans: CharSpan[] = [];
    let pos = 0;
    let open = -1;
    for (;;) {
      const s = raw.indexOf(GEN_START, pos);
      const e = raw.indexOf(GEN_END, pos);
      if (s < 0 && e < 0) break;
      if (s >= 0 && (e < 0 || s < e)) {
        text += raw.slice(pos, s);
        if (open < 0) open = text.length;
        pos = s + GEN_START.length;
      } else {
        text += raw.slice(pos, e);
        if (open >= 0 && text.length > open) spans.push([open, text.length]);
        open = -1;
        pos = e + GEN_END.length;
      }
    }
    text += raw.slice(pos);
    return { text, spans };
  }

  private run(t: BudgetedTemplate, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    try {
      return t.render({
        ...this.context,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (e) {
      if (e instanceof TemplateBudgetError) throw e; // the template, not this record: refuse the dataset
      throw new RecordError(`the chat template failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/**
 * Char spans of each assistant turn in `full` (= render(messages)) for templates WITHOUT generation
 * tags, by rendering prefixes: an assistant turn i starts where render(messages[:i],
 * add_generation_prompt=True) ends (so whatever the template writes after the generation prompt,
 * e.g. Qwen3's empty `<think>\n\n</think>\n\n`, is part of what the assistant produces), and ends
 * right after the first end-of-turn token that follows (`endOfTurn`, e.g. '<|im_end|>'), before
 * the end of render(messages[:i+1]) when that is a prefix of `full`. Throws RecordError when the
 * template does not render prefixes as prefixes.
 */
export function assistantSpansByPrefix(
  template: ChatTemplate,
  messages: readonly ChatMessage[],
  full: string,
  endOfTurn: readonly string[],
  warn?: (msg: string) => void,
): CharSpan[] {
  const spans: CharSpan[] = [];
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    const prefix = template.render(messages.slice(0, i), true);
    if (!full.startsWith(prefix)) {
      throw new RecordError(
        `cannot locate assistant turn ${i + 1}: the chat template does not render the conversation before it as a prefix (use --train-on all, or a template with {% generation %} tags)`,
      );
    }
    const start = prefix.length;
    const firstEnd = (limit: number): number => {
      let end = -1;
      for (const tok of endOfTurn) {
        if (!tok) continue;
        const at = full.indexOf(tok, start);
        if (at >= 0 && at + tok.length <= limit && (end < 0 || at + tok.length < end)) end = at + tok.length;
      }
      return end;
    };
    // Fast path: an end-of-turn token before the next message's text is this turn's.
    const next = messages[i + 1];
    const nextAt = next ? full.indexOf(next.content, start) : full.length;
    let end = nextAt >= 0 ? firstEnd(nextAt) : -1;
    let limit = full.length;
    if (end < 0) {
      // Otherwise bound the search by the end of render(messages[:i+1]) when it is a prefix.
      const through = template.render(messages.slice(0, i + 1), false);
      if (through.length > start && full.startsWith(through)) limit = through.length;
      end = firstEnd(limit);
    }
    if (end < 0) {
      end = start + full.slice(start, limit).trimEnd().length;
      warn?.(
        `no end-of-turn token (${endOfTurn.filter(Boolean).join(', ')}) after an assistant turn: the model may not learn to stop`,
      );
    }
    if (end > start) spans.push([start, end]);
  }
  return spans;
}
