// Tests: the page's localStorage as a Map (run-pause-notes' NoteStorage), or one that refuses
// every write as a full or forbidden localStorage does.
import type { NoteStorage } from '../run-pause-notes';

export function memoryStorage(refuseWrites = false): NoteStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    get length() {
      return items.size;
    },
    key: (i) => [...items.keys()][i] ?? null,
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => {
      if (refuseWrites) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      items.set(k, v);
    },
    removeItem: (k) => void items.delete(k),
  };
}
