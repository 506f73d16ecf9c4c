// Test helper: a conversation's messages from its texts (the data tests and e2e specs).
import type { ChatMessage } from '../formats';

/** An optional system message, then turns alternating user, assistant, user, ... */
export function chatMessages(system: string | null, ...turns: string[]): ChatMessage[] {
  const head: ChatMessage[] = system === null ? [] : [{ role: 'system', content: system }];
  return head.concat(turns.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })));
}
