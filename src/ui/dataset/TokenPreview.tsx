import type { PreviewToken } from '../../worker/protocol';

/** The first examples as tokens: trained tokens highlighted, masked ones dimmed. */
export function TokenPreview({ rows }: { rows: PreviewToken[][] }) {
  if (rows.length === 0) return null;
  return (
    <details className="token-preview">
      <summary>Preview: trained tokens are highlighted, masked tokens are grey</summary>
      {rows.map((row, i) => (
        <p key={i} className="tokens">
          {row.map((t, k) => (
            <span key={k} className={t.trained ? 'tok trained' : 'tok masked'} title={`id ${t.id}${t.trained ? ' · trained' : ' · masked'}`}>
              {t.text.replace(/\n/g, '↵\n')}
            </span>
          ))}
        </p>
      ))}
    </details>
  );
}
