// A preference file's pairs in the token preview: the prompt, the chosen and the rejected
// completion side by side, each token marked as the run trains it (TRL's length rules, as
// src/data/preference.ts pairSides applies them: the prompt keeps its last Max prompt length
// tokens, each completion what fits Max length after it).
import { useState } from 'react';
import type { PairPreview as Pair, PreviewToken } from '../../worker/protocol';

type Kind = 'trained' | 'masked' | 'cut';

/** What training does with each token of a pair at maxLength / maxPromptLength (pairSides' rule). */
export function pairTokenKinds(pair: Pair, maxLength: number, maxPromptLength: number = Math.floor(maxLength / 2)): { prompt: Kind[]; chosen: Kind[]; rejected: Kind[] } {
  const n = pair.prompt.length;
  const keptPrompt = Math.min(n, maxPromptLength);
  const room = Math.max(0, maxLength - keptPrompt);
  const completion = (row: PreviewToken[]): Kind[] => row.map((t, i) => (i >= room ? 'cut' : t.trained ? 'trained' : 'masked'));
  return {
    // The prompt is cut from its start; it is never trained.
    prompt: pair.prompt.map((_t, i) => (i < n - keptPrompt ? 'cut' : 'masked')),
    chosen: completion(pair.chosen),
    rejected: completion(pair.rejected),
  };
}

const TITLES: Record<Kind, string> = { trained: 'trained', masked: 'masked (prompt)', cut: 'cut by the length rules' };

function Tokens({ row, kinds, label }: { row: PreviewToken[]; kinds: Kind[]; label: string }) {
  return (
    <div className="pair-side">
      <h4>{label}</h4>
      <p className="tokens" data-testid={`pair-${label}`}>
        {row.map((t, k) => (
          <span key={k} className={`tok ${kinds[k]}`} title={`id ${t.id} · ${TITLES[kinds[k]]}`}>
            {t.text.replace(/\n/g, '↵\n')}
          </span>
        ))}
      </p>
    </div>
  );
}

export function PairPreview({ pairs, total, maxLength, maxPromptLength }: { pairs: Pair[]; total: number; maxLength: number; maxPromptLength?: number }) {
  const [index, setIndex] = useState(0);
  if (pairs.length === 0) return null;
  const i = Math.min(index, pairs.length - 1);
  const pair = pairs[i];
  const kinds = pairTokenKinds(pair, maxLength, maxPromptLength);
  const trained = (k: Kind[]) => k.filter((x) => x === 'trained').length;
  return (
    <details className="token-preview" open>
      <summary>Pairs: the prompt (never trained), the chosen and the rejected completion; trained tokens are highlighted</summary>
      <div className="row token-nav">
        <button type="button" className="secondary" onClick={() => setIndex(i - 1)} disabled={i === 0} aria-label="Previous pair">
          ‹
        </button>
        <span>
          Pair {i + 1} of {pairs.length}
          {total > pairs.length ? ` shown (of ${total})` : ''}
        </span>
        <button type="button" className="secondary" onClick={() => setIndex(i + 1)} disabled={i === pairs.length - 1} aria-label="Next pair">
          ›
        </button>
        <span className="muted" data-testid="pair-info">
          line {pair.line} · prompt {pair.prompt.length} tokens · chosen {trained(kinds.chosen)} trained · rejected {trained(kinds.rejected)} trained
        </span>
      </div>
      <p className="legend muted">
        <span className="tok trained">trained</span> <span className="tok masked">prompt (masked)</span> <span className="tok cut">cut by Max length / Max prompt length</span>
      </p>
      <div className="pair-view" data-testid="pair-view">
        <Tokens row={pair.prompt} kinds={kinds.prompt} label="prompt" />
        <Tokens row={pair.chosen} kinds={kinds.chosen} label="chosen" />
        <Tokens row={pair.rejected} kinds={kinds.rejected} label="rejected" />
      </div>
    </details>
  );
}
