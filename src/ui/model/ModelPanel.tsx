import { useState, type FormEvent } from 'react';
import type { ImportQuant } from '../../hub/store';
import { OTHER_HINTS } from '../../state/settings';
import { QUANT_LABELS } from '../../state/slices/library';
import { hubReadAccess } from '../../state/hub-choice';
import { isActive } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { Hint } from '../common/Hint';
import { ProgressLine } from '../common/ProgressLine';
import { Section } from '../common/Section';
import { HubNotice } from './HubNotice';
import { HubResults } from './HubResults';
import { ImportProgressView } from './ImportProgressView';
import { LibraryList } from './LibraryList';
import { ModelSummaryView } from './ModelSummaryView';
import { useHubSearch } from './useHubSearch';

export function ModelPanel() {
  const model = useStudio((s) => s.model);
  const importing = useStudio((s) => s.library.importing);
  const quant = useStudio((s) => s.library.quant);
  const setImportQuant = useStudio((s) => s.setImportQuant);
  const cancelImport = useStudio((s) => s.cancelImport);
  const training = useStudio((s) => isActive(s.training.status));
  const loadHubModel = useStudio((s) => s.loadHubModel);
  const loadLocalModel = useStudio((s) => s.loadLocalModel);
  const useDemo = useStudio((s) => s.useDemo);
  const [repo, setRepo] = useState('');
  const token = useStudio((s) => s.hubToken);
  const setToken = useStudio((s) => s.setHubToken);
  // The id last chosen from the search results: the list closes until the text changes again.
  const [chosen, setChosen] = useState<string | null>(null);
  const tokenOrigin = useStudio((s) => s.model.tokenOrigin);
  const busy = model.status === 'loading' || training;
  const searchText = repo === chosen ? '' : repo;
  const search = useHubSearch(searchText, hubReadAccess(token, tokenOrigin));
  const choose = (id: string) => {
    setRepo(id);
    setChosen(id);
    void loadHubModel(id, token.trim());
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (repo.trim()) void loadHubModel(repo, token.trim());
  };

  return (
    <Section id="model" step={1} title="Model">
      <form className="model-sources" onSubmit={submit}>
        <div className="row">
          <label htmlFor="hub-id">Hugging Face model id</label>
          <input
            id="hub-id"
            type="text"
            placeholder="HuggingFaceTB/SmolLM2-135M-Instruct"
            value={repo}
            onChange={(e) => setRepo(e.target.value)}
            spellCheck={false}
            autoComplete="off"
          />
          <button type="submit" disabled={busy || !repo.trim()}>
            Load model
          </button>
        </div>
        <HubResults state={search} query={searchText} onChoose={choose} />
        <div className="row">
          <label htmlFor="hub-token">Access token</label>
          <input
            id="hub-token"
            type="password"
            placeholder="hf_… (gated or private models and datasets only)"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            autoComplete="off"
          />
          <span className="muted">Used for this download only; never stored.</span>
        </div>
        <HubNotice />
        <div className="row">
          <label htmlFor="import-quant">Quantization</label>
          <select id="import-quant" value={quant} onChange={(e) => setImportQuant(e.target.value as ImportQuant)} disabled={busy} aria-describedby="import-quant-hint">
            {(Object.keys(QUANT_LABELS) as ImportQuant[]).map((q) => (
              <option key={q} value={q}>
                {QUANT_LABELS[q]}
              </option>
            ))}
          </select>
          <Hint id="import-quant-hint" text={OTHER_HINTS.quantization} />
        </div>
      </form>
      <div className="row">
        <label htmlFor="model-files">Model files</label>
        <input
          id="model-files"
          type="file"
          multiple
          accept=".json,.safetensors,.jinja"
          disabled={busy}
          onChange={(e) => {
            const files = e.target.files ? [...e.target.files] : [];
            if (files.length) void loadLocalModel(files);
          }}
        />
        <span className="muted">config.json, tokenizer.json, tokenizer_config.json and the .safetensors files</span>
      </div>
      <div className="row">
        <button type="button" className="secondary" disabled={busy} onClick={() => void useDemo()}>
          Use demo model
        </button>
        <span className="muted">A tiny Llama with random weights and a sample chat dataset, shipped with the app: trains in under a minute.</span>
      </div>
      {importing ? (
        <div className="row">
          <ImportProgressView label={importing.label} progress={importing.progress} />
          <button type="button" className="secondary" onClick={cancelImport}>
            Cancel
          </button>
        </div>
      ) : null}
      {model.status === 'loading' && !importing ? <p className="muted">Loading {model.sourceLabel}…</p> : null}
      <ProgressLine progress={model.progress} />
      <ErrorBox error={model.error} title="Could not load the model" />
      {model.summary ? <ModelSummaryView summary={model.summary} /> : null}
      <LibraryList />
    </Section>
  );
}
