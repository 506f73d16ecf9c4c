import { useMemo, useState } from 'react';
import { packRows } from '../../data/sequences';
import type { PreviewToken } from '../../worker/protocol';

export interface TokenPreviewProps {
  /** The first examples of the file, token by token (at most PREVIEW_TOKENS each). */
  rows: PreviewToken[][];
  /** File line of each row, when known. */
  lines?: number[];
  /** Full token count of each row's example (rows may show fewer). */
  lengths?: number[];
  /** Examples in the dataset. */
  total?: number;
  /** Tokens past it are cut when training. */
  maxLength?: number;
  /** A trained span cut by maxLength is masked whole (assistant-only training of chat/completion data). */
  protect?: boolean;
  /** Training packs examples into rows of maxLength (Settings → Packing). */
  packing?: boolean;
}

type Kind = 'trained' | 'masked' | 'cut' | 'cut-turn';

/** What training does with each shown token at `maxLength` (src/data truncateExample's rule). */
export function tokenKinds(row: PreviewToken[], maxLength: number, protect: boolean, packing = false): Kind[] {
  // Packed, an example's first token has label -100 (no target from the example before it).
  const kinds: Kind[] = row.map((t, i) => (i >= maxLength ? 'cut' : t.trained && !(packing && i === 0) ? 'trained' : 'masked'));
  if (protect && maxLength > 0 && maxLength < row.length && row[maxLength].trained && row[maxLength - 1].trained) {
    let r = maxLength - 1;
    while (r > 0 && row[r - 1].trained) r--;
    for (let i = r; i < maxLength; i++) kinds[i] = 'cut-turn';
  }
  return kinds;
}

const TITLES: Record<Kind, string> = {
  trained: 'trained',
  masked: 'masked',
  cut: 'past Max length: cut',
  'cut-turn': 'masked: its turn is cut by Max length',
};

/** The dataset's examples token by token: trained tokens highlighted, masked ones grey, cut ones struck. */
/**
 * With packing: the packed row the shown example shares, as the previewed examples would pack
 * (packRows, the trainer's rule; training packs the whole shuffled epoch, so its rows differ).
 */
function packedRowNote(lengths: readonly number[], i: number, maxLength: number): string {
  const rows = packRows(lengths, maxLength);
  const row = rows.find((r) => r.includes(i)) ?? [i];
  const used = row.reduce((n, k) => n + Math.min(lengths[k], maxLength), 0);
  const others = row.filter((k) => k !== i).map((k) => k + 1);
  return `Packed: a row of ${maxLength} tokens holds ${others.length ? `this example and example${others.length === 1 ? '' : 's'} ${others.join(', ')}` : 'this example alone'} of this preview (${used} tokens, ${maxLength - used} padding). Its positions restart at 0 and its first token is not a target.`;
}

export function TokenPreview({ rows, lines, lengths, total, maxLength = Number.MAX_SAFE_INTEGER, protect = false, packing = false }: TokenPreviewProps) {
  const [index, setIndex] = useState(0);
  const fullLengths = useMemo(() => rows.map((r, k) => lengths?.[k] ?? r.length), [rows, lengths]);
  if (rows.length === 0) return null;
  const i = Math.min(index, rows.length - 1);
  const row = rows[i];
  const packed = packing && maxLength < Number.MAX_SAFE_INTEGER;
  const kinds = tokenKinds(row, maxLength, protect, packed);
  const trained = kinds.filter((k) => k === 'trained').length;
  const full = lengths?.[i] ?? row.length;
  return (
    <details className="token-preview" open>
      <summary>Tokens: trained tokens are highlighted, masked tokens are grey</summary>
      <div className="row token-nav">
        <button type="button" className="secondary" onClick={() => setIndex(i - 1)} disabled={i === 0} aria-label="Previous example">
          ‹
        </button>
        <label htmlFor="token-example">Example</label>
        <input
          id="token-example"
          type="number"
          min={1}
          max={rows.length}
          value={i + 1}
          onChange={(e) => {
            const n = Math.round(Number(e.target.value));
            if (n >= 1 && n <= rows.length) setIndex(n - 1);
          }}
        />
        <span className="muted">
          of {rows.length}
          {total !== undefined && total > rows.length ? ` shown (of ${total})` : ''}
        </span>
        <button type="button" className="secondary" onClick={() => setIndex(i + 1)} disabled={i === rows.length - 1} aria-label="Next example">
          ›
        </button>
        <span className="muted" data-testid="token-example-info">
          {lines?.[i] !== undefined ? `line ${lines[i]} · ` : ''}
          {full} tokens, {trained} trained{full > row.length ? ` (first ${row.length} shown)` : ''}
        </span>
      </div>
      <p className="legend muted">
        <span className="tok trained">trained</span> <span className="tok masked">masked</span> <span className="tok cut">cut at Max length</span>{' '}
        <span className="tok cut-turn">masked: turn cut by Max length</span>
      </p>
      {packed ? (
        <p className="muted" data-testid="token-packing">
          {packedRowNote(fullLengths, i, maxLength)}
        </p>
      ) : null}
      <p className="tokens" data-testid="token-view">
        {row.map((t, k) => (
          <span key={k}>
            {k === maxLength ? (
              <span className="cut-mark" aria-label={`Max length ${maxLength}`}>
                ✂
              </span>
            ) : null}
            <span className={`tok ${kinds[k]}`} title={`id ${t.id} · ${TITLES[kinds[k]]}`}>
              {t.text.replace(/\n/g, '↵\n')}
            </span>
          </span>
        ))}
      </p>
    </details>
  );
}
