// The dataset panel's "Hugging Face dataset id": search (debounced, abortable: useHubDatasetSearch),
// the chosen dataset's configs and splits, an optional row limit, then the split downloaded with
// progress (kept in this browser) and shown: row count, columns, first rows and a proposed column
// mapping; the dataset flow below (preview, counts, mapping) then runs on it.
import { useEffect, useState, type FormEvent } from 'react';
import { hubReadAccess } from '../../state/hub-choice';
import { isActive } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { formatCount } from '../common/format';
import { ProgressLine } from '../common/ProgressLine';
import { useHubDatasetSearch } from '../model/useHubSearch';

const cell = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
};

export function HubDatasetField() {
  const hd = useStudio((s) => s.hubDataset);
  const openHubDataset = useStudio((s) => s.openHubDataset);
  const chooseHubSplit = useStudio((s) => s.chooseHubSplit);
  const peekHubSplit = useStudio((s) => s.peekHubSplit);
  const tokenOrigin = useStudio((s) => s.model.tokenOrigin);
  const training = useStudio((s) => isActive(s.training.status));
  const [text, setText] = useState('');
  const [chosen, setChosen] = useState<string | null>(null);
  const token = useStudio((s) => s.hubToken);
  const [config, setConfig] = useState('');
  const [split, setSplit] = useState('');
  const [limit, setLimit] = useState('');
  const search = useHubDatasetSearch(text === chosen ? '' : text, hubReadAccess(token, tokenOrigin));
  const busy = hd.status === 'loading' || training;
  const configs = hd.info?.configs ?? [];
  const splits = configs.find((c) => c.name === config)?.splits ?? [];

  // A newly opened dataset starts at its "default" config (or the first) and "train" split (or the first).
  useEffect(() => {
    const c = configs.find((x) => x.name === 'default') ?? configs[0];
    setConfig(c?.name ?? '');
    setSplit((c?.splits.find((s) => s.name === 'train') ?? c?.splits[0])?.name ?? '');
  }, [hd.info]); // eslint-disable-line react-hooks/exhaustive-deps

  // The chosen split's row count and first rows, read by byte ranges before any download (Parquet).
  useEffect(() => {
    if (hd.info && config && split) void peekHubSplit(config, split, token);
  }, [hd.info, config, split]); // eslint-disable-line react-hooks/exhaustive-deps

  const open = (id: string) => {
    setText(id);
    setChosen(id);
    void openHubDataset(id, token);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim()) open(text.trim());
  };
  const rows = limit.trim() === '' ? undefined : Number(limit);
  const badLimit = rows !== undefined && !(Number.isInteger(rows) && rows > 0);
  const p = hd.preview;

  return (
    <form className="hub-dataset" onSubmit={submit} aria-label="Hugging Face dataset">
      <div className="row">
        <label htmlFor="hub-dataset-id">Hugging Face dataset id</label>
        <input id="hub-dataset-id" type="text" placeholder="yahma/alpaca-cleaned" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} autoComplete="off" />
        <button type="submit" disabled={busy || !text.trim()}>
          Open dataset
        </button>
      </div>
      {search.status === 'searching' ? <p className="muted" role="status">Searching the Hub…</p> : null}
      {search.status === 'offline' ? <p className="warning">{search.message}</p> : null}
      {search.status === 'error' ? <ErrorBox error={search.error} title="Hub search failed" /> : null}
      {search.status === 'done' ? (
        <ul aria-label="Hub datasets" className="library-list">
          {search.result.map((h) => (
            <li key={h.id} data-testid="hub-dataset-hit">
              <button type="button" className="link library-name" disabled={busy} onClick={() => open(h.id)} aria-label={`Open ${h.id}`}>
                {h.id}
              </button>
              <span className="muted">{formatCount(h.downloads)} downloads</span>
              {h.size ? <span className="muted">{h.size} rows</span> : null}
              {h.gated ? <span className="badge warn">Gated</span> : null}
              {h.private ? <span className="badge">Private</span> : null}
            </li>
          ))}
          {search.result.length === 0 ? <li className="muted">No dataset on the Hub matches “{text.trim()}”.</li> : null}
        </ul>
      ) : null}
      <p className="muted">A dataset that needs an access token uses the one given under Model (never stored).</p>
      {hd.info ? (
        <div className="row" data-testid="hub-dataset-choice">
          <label htmlFor="hub-dataset-config">Config</label>
          <select id="hub-dataset-config" value={config} disabled={busy} onChange={(e) => {
            setConfig(e.target.value);
            const c = configs.find((x) => x.name === e.target.value);
            setSplit((c?.splits.find((s) => s.name === 'train') ?? c?.splits[0])?.name ?? '');
          }}>
            {configs.map((c) => (
              <option key={c.name} value={c.name}>{c.name}</option>
            ))}
          </select>
          <label htmlFor="hub-dataset-split">Split</label>
          <select id="hub-dataset-split" value={split} disabled={busy} onChange={(e) => setSplit(e.target.value)}>
            {splits.map((s) => (
              <option key={s.name} value={s.name}>{s.name} ({s.files.length} file{s.files.length === 1 ? '' : 's'})</option>
            ))}
          </select>
          <label htmlFor="hub-dataset-rows">Row limit</label>
          <input id="hub-dataset-rows" type="number" min={1} step={1} placeholder="all" value={limit} onChange={(e) => setLimit(e.target.value)} aria-invalid={badLimit} />
          <button type="button" disabled={busy || !split || badLimit} onClick={() => void chooseHubSplit(config, split, rows, token)}>
            Use this split
          </button>
          <span className="muted">{hd.info.id} at commit {hd.info.sha.slice(0, 12)} · {hd.info.source === 'parquet-conversion' ? 'the Hub’s Parquet conversion' : 'the repository’s data files'}{hd.info.gated ? ' · gated' : ''}{hd.info.private ? ' · private' : ''}</span>
        </div>
      ) : null}
      {hd.status === 'loading' && !hd.progress ? <p className="muted">Reading {hd.id} on the Hub…</p> : null}
      <ProgressLine progress={hd.progress} />
      <ErrorBox error={hd.error} title={`Could not use ${hd.id ?? 'the dataset'}`} />
      {p ? (
        <div className="hub-dataset-preview" data-testid="hub-dataset-preview">
          <p>
            <strong>{p.split.id}</strong> · {p.split.config}/{p.split.split} · {p.rows !== null ? `${formatCount(p.rows)} rows` : 'rows unknown'} · columns {p.columns.join(', ')}
            {p.downloaded ? '' : ' · read from the Hub, not downloaded yet'}
            {p.fromStore ? ' · kept in this browser' : ''}
            {p.offline ? ' · offline: as kept' : ''}
          </p>
          {p.proposal ? (
            <p className="muted" data-testid="hub-dataset-proposal">
              Proposed column mapping: <code>{p.proposal.text}</code> ({p.proposal.format}); change it under Column mapping below.
            </p>
          ) : null}
          <table aria-label="First rows">
            <thead>
              <tr>{p.columns.map((c) => <th key={c}>{c}</th>)}</tr>
            </thead>
            <tbody>
              {p.firstRows.map((r, i) => (
                <tr key={i}>{p.columns.map((c) => <td key={c}>{cell((r as Record<string, unknown>)?.[c])}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </form>
  );
}
