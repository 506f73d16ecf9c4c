import { useEffect } from 'react';
import { QUANT_LABELS } from '../../state/slices/library';
import { hubEndpoint } from '../../state/hub-choice';
import { isActive } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { formatBytes } from '../common/format';

/** The models stored in this browser (IndexedDB): use, resume an interrupted import, delete. */
export function LibraryList() {
  const lib = useStudio((s) => s.library);
  const busy = useStudio((s) => s.model.status === 'loading' || isActive(s.training.status));
  const refresh = useStudio((s) => s.refreshLibrary);
  const useStored = useStudio((s) => s.useStored);
  const resume = useStudio((s) => s.resumeImport);
  const remove = useStudio((s) => s.deleteStored);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  return (
    <div className="library">
      <h3 id="library-heading">Model library</h3>
      <ul aria-label="Model library" className="library-list">
        {lib.items.map((m) => (
          <li key={m.key}>
            <span className="library-name">{m.hubId ?? m.name}</span>
            {m.revision && m.revision !== 'main' ? <span className="muted">@{m.revision}</span> : null}
            <span className="badge">{QUANT_LABELS[m.quant]}</span>
            <span className="muted">{formatBytes(m.bytes)}</span>
            {m.complete ? (
              <span className="muted">{m.date ? new Date(m.date).toLocaleDateString() : ''}</span>
            ) : (
              <span className="badge warn">Incomplete{m.fraction !== null ? ` (${Math.round(m.fraction * 100)}%)` : ''}</span>
            )}
            <span className="library-actions">
              {m.complete ? (
                <button type="button" className="secondary" disabled={busy} onClick={() => void useStored(m)}>
                  Use
                </button>
              ) : m.source === 'hub' && !m.orphan ? (
                <button type="button" className="secondary" disabled={busy} onClick={() => void resume(m, hubEndpoint())}>
                  Resume
                </button>
              ) : null}
              <button type="button" className="link" disabled={busy} onClick={() => void remove(m.key)}>
                Delete
              </button>
            </span>
          </li>
        ))}
      </ul>
      {lib.items.length === 0 ? <p className="muted">No models stored yet: models loaded by id or from files are kept here and work offline.</p> : null}
      <ErrorBox error={lib.error} title="Model library" />
    </div>
  );
}
