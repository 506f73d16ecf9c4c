import { useCallback, useMemo } from 'react';
import type { ModelSpec } from '../../engine/model/spec';
import type { HubModelHit } from '../../hub/search';
import { checkFit } from '../../state/gpu-fit';
import { toTrainSettings, validateSettings } from '../../state/settings';
import { QUANT_LABELS } from '../../state/slices/library';
import { isActive } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import type { ErrorInfo } from '../../worker/protocol';
import { ErrorBox } from '../common/ErrorBox';
import { formatBytes, formatCount } from '../common/format';
import type { HubSearchState } from './useHubSearch';

type Fit = { kind: 'fits' | 'tight' | 'no' | 'unknown'; text: string };

/** Whether a result fits this GPU at the chosen quantization and settings: the one estimate (state/gpu-fit.ts). */
function useFitOf(): (hit: HubModelHit, spec: ModelSpec | ErrorInfo | undefined) => Fit {
  const quant = useStudio((s) => s.library.quant);
  const form = useStudio((s) => s.settings);
  const gpu = useStudio((s) => s.gpu.info);
  const examples = useStudio((s) => s.dataset.summary?.examples ?? null);
  const longest = useStudio((s) => s.dataset.summary?.longestExample ?? null);
  const train = useMemo(
    () => (Object.keys(validateSettings(form, { model: null, examples })).length === 0 ? toTrainSettings(form, examples) : null),
    [form, examples],
  );
  return useCallback((hit, spec) => {
    if (spec === undefined) return { kind: 'unknown', text: hit.gated ? 'Gated: enter your access token to check the fit' : 'Checking the fit…' };
    if (!('hiddenSize' in spec)) return { kind: 'unknown', text: `Fit unknown: ${spec.message}` };
    if (!train) return { kind: 'unknown', text: 'Fit unknown: the settings are not valid' };
    const fit = checkFit({ spec, quant, randomWeights: false }, train, gpu, longest);
    const at = `${QUANT_LABELS[quant]}, batch ${fit.batch} × ${fit.seq} tokens`;
    const needs = formatBytes(fit.estimate.total_bytes);
    if (!gpu) return { kind: 'unknown', text: `Needs about ${needs} of GPU memory (${at}); this GPU is not known yet` };
    if (!fit.fits) return { kind: 'no', text: `Does not fit this GPU (${at}): ${fit.problems.map((p) => `the ${p.label} needs ${formatBytes(p.bytes)}, the limit is ${formatBytes(p.max)}`).join('; ')}` };
    if (fit.warning) return { kind: 'tight', text: `Fits this GPU's limits but needs about ${needs}, more than a tab usually gets (${at})` };
    return { kind: 'fits', text: `Fits this GPU: about ${needs} (${at})` };
  }, [quant, train, gpu, longest]);
}

/** Hub search results under the model field; offline, the stored models matching the text. */
export function HubResults({ state, query, onChoose }: { state: HubSearchState; query: string; onChoose: (id: string) => void }) {
  const busy = useStudio((s) => s.model.status === 'loading' || isActive(s.training.status));
  const library = useStudio((s) => s.library.items);
  const useStored = useStudio((s) => s.useStored);
  const fitOf = useFitOf();
  // One estimate per result and change of settings, not per render (a large model's takes a while).
  const fits = useMemo(() => (state.status === 'done' ? new Map(state.result.hits.map((h) => [h.id, fitOf(h, state.specs[h.id])])) : null), [state, fitOf]);

  if (state.status === 'idle') return null;
  if (state.status === 'searching') return <p className="muted" role="status">Searching the Hub…</p>;
  if (state.status === 'error') return <ErrorBox error={state.error} title="Hub search failed" />;
  if (state.status === 'offline') {
    const q = query.trim().toLowerCase();
    const stored = library.filter((m) => m.complete && (m.hubId ?? m.name).toLowerCase().includes(q));
    return (
      <div className="hub-results" data-testid="hub-offline">
        <p role="status" className="warning">
          {state.message} Showing the models stored in this browser.
        </p>
        {stored.length ? (
          <ul aria-label="Stored models matching" className="library-list">
            {stored.map((m) => (
              <li key={m.key}>
                <span className="library-name">{m.hubId ?? m.name}</span>
                <span className="badge">{QUANT_LABELS[m.quant]}</span>
                <button type="button" className="secondary" disabled={busy} onClick={() => void useStored(m)}>
                  Use
                </button>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No stored model matches “{query.trim()}”.</p>
        )}
      </div>
    );
  }
  const { hits, hidden } = state.result;
  return (
    <div className="hub-results">
      <ul aria-label="Hub models" className="library-list">
        {hits.map((h) => {
          const fit = fits!.get(h.id)!;
          return (
            <li key={h.id} data-testid="hub-hit">
              <button type="button" className="link library-name" disabled={busy} onClick={() => onChoose(h.id)} aria-label={`Load ${h.id}`}>
                {h.id}
              </button>
              <span className="muted">{h.params !== null ? `${formatCount(h.params)} parameters` : 'parameters unknown'}</span>
              <span className="muted">{formatCount(h.downloads)} downloads</span>
              {h.gated ? <span className="badge warn">Gated</span> : null}
              {h.private ? <span className="badge">Private</span> : null}
              <span className={`badge${fit.kind === 'no' ? ' warn' : ''}`} data-fit={fit.kind}>
                {fit.text}
              </span>
            </li>
          );
        })}
      </ul>
      {hits.length === 0 ? <p className="muted">No model on the Hub matches “{query.trim()}” with an architecture this studio trains.</p> : null}
      {hidden.length ? (
        <p className="muted" data-testid="hub-hidden">
          {hidden.length} more not shown: architectures this studio does not train ({[...new Set(hidden.map((h) => h.architecture ?? 'no config'))].slice(0, 4).join(', ')}).
        </p>
      ) : null}
    </div>
  );
}
