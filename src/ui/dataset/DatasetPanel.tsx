import './dataset.css';
import { useStudio } from '../../state/store';
import { packingOf } from '../../state/settings';
import { dataFormatName } from '../../data/formats';
import { isActive } from '../../state/slices/training';
import { ErrorBox } from '../common/ErrorBox';
import { formatCount } from '../common/format';
import { ProgressLine } from '../common/ProgressLine';
import { Section } from '../common/Section';
import { DatasetCounts } from './DatasetCounts';
import { DatasetFileInput } from './DatasetFileInput';
import { DatasetOptions } from './DatasetOptions';
import { HubDatasetField } from './HubDatasetField';
import { LengthHistogram } from './LengthHistogram';
import { LineErrors } from './LineErrors';
import { TokenPreview } from './TokenPreview';
import { PairPreview } from './PairPreview';
import { METHOD_INFO, methodDataProblem, methodsFor } from '../../settings/run-settings';
import { methodOf } from '../../state/settings';

export function DatasetPanel() {
  const dataset = useStudio((s) => s.dataset);
  const modelReady = useStudio((s) => s.model.status === 'ready');
  const maxLength = useStudio((s) => Number(s.settings.numbers.maxLength));
  // Packing as the run would use it (the switch, or automatic from the examples' lengths).
  const packing = useStudio((s) => packingOf(s.settings, s.dataset.details?.lengths ?? null));
  const validationExamples = useStudio((s) => Number(s.settings.numbers.validationExamples) || 0);
  const training = useStudio((s) => isActive(s.training.status));
  const loadDatasetFile = useStudio((s) => s.loadDatasetFile);
  const skipBadLines = useStudio((s) => s.skipBadLines);
  const method = useStudio((s) => methodOf(s.settings));
  const maxPromptText = useStudio((s) => s.settings.numbers.maxPromptLength?.trim() ?? '');
  const d = dataset.summary;
  const details = dataset.details;
  const badLines = dataset.error?.lines ?? [];
  // A refused validation file is named as such (the worker prefixes its errors).
  const refusedName = dataset.error?.message.startsWith('Validation file ') ? (dataset.validationFileName ?? 'The validation file') : dataset.fileName;
  const protect = (details?.trainOn ?? 'assistant') !== 'all' && d?.format !== 'text';

  return (
    <Section id="dataset" step={2} title="Dataset">
      <div className="row">
        <label htmlFor="dataset-file">Dataset file</label>
        <DatasetFileInput id="dataset-file" disabled={training} onFile={(f) => void loadDatasetFile(f)} />
      </div>
      <HubDatasetField />
      <p className="muted">
        JSON Lines (or JSON, CSV, TSV, text): chat <code>{'{"messages": [{"role": "user", "content": …}, {"role": "assistant", "content": …}]}'}</code>, ShareGPT,{' '}
        <code>{'{"prompt": …, "completion": …}'}</code>, Alpaca or <code>{'{"text": …}'}</code>. By default only assistant turns and completions are trained. Preference pairs
        for DPO, IPO and ORPO: <code>{'{"prompt": …, "chosen": …, "rejected": …}'}</code> (strings or lists of turns), or full <code>chosen</code> /{' '}
        <code>rejected</code> conversations sharing their prompt.
      </p>
      <DatasetOptions />
      {dataset.status === 'waiting' && !modelReady ? <p className="muted">{dataset.fileName} will be tokenized once a model is loaded.</p> : null}
      {dataset.status === 'loading' ? <p className="muted">Tokenizing {dataset.fileName}…</p> : null}
      <ProgressLine progress={dataset.progress} />
      {badLines.length > 0 ? (
        <div className="error">
          <LineErrors errors={badLines} total={dataset.error?.linesTotal} title={`${refusedName} was refused`} />
          <button type="button" className="secondary" onClick={() => void skipBadLines()}>
            Skip the bad lines and use the rest
          </button>
        </div>
      ) : (
        <ErrorBox error={dataset.error} title={`Could not use ${dataset.fileName ?? 'the dataset'}`} />
      )}
      {d ? (
        <div className="summary" data-testid="dataset-summary">
          <p>
            <strong>{d.fileName}</strong> · {dataFormatName(d.format)} · {d.examples} {d.pairs ? 'pairs' : 'examples'} · {formatCount(d.tokens)} tokens ({formatCount(d.trainedTokens)} trained) · mean{' '}
            {d.meanTokens.toFixed(0)}, longest {d.longestExample}
            {d.longestExample > maxLength ? ` · examples over Max length (${maxLength}) are truncated` : ''}
            {details?.trainOn === 'all' ? ' · training on all tokens' : ''}
          </p>
          {d.pairs ? (
            <p className="preference-note" data-testid="dataset-preference">
              Preference data ({d.pairs.shape} pairs: prompt, chosen, rejected): it can train {methodsFor(true).map((m) => METHOD_INFO[m].label).join(', ')}.
            </p>
          ) : null}
          {methodDataProblem(method, d.format === 'preference') ? (
            <p className="warning" role="note" data-testid="dataset-method-mismatch">
              Method {METHOD_INFO[method].label} (Settings): {methodDataProblem(method, d.format === 'preference')}.
            </p>
          ) : null}
          <DatasetCounts summary={d} details={details} maxLength={maxLength} validationExamples={validationExamples} />
          {d.skipped.length > 0 ? <LineErrors errors={d.skipped} total={d.skippedTotal} title="Skipped" /> : null}
          {d.warnings.length > 0 ? (
            <ul className="warning">
              {d.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          ) : null}
          <LengthHistogram histogram={d.histogram} maxLength={maxLength} />
          {d.pairs ? (
            <PairPreview
              key={`${d.fileName}|${d.examples}|${d.tokens}`}
              pairs={d.pairs.preview}
              total={d.examples}
              maxLength={maxLength > 0 ? maxLength : Number.MAX_SAFE_INTEGER}
              maxPromptLength={maxPromptText && Number(maxPromptText) > 0 ? Number(maxPromptText) : undefined}
            />
          ) : null}
          <TokenPreview
            key={`${d.fileName}|${d.examples}|${d.tokens}|${d.trainedTokens}`}
            rows={d.preview}
            lines={details?.previewLines}
            lengths={details?.previewLengths}
            total={d.examples}
            maxLength={maxLength > 0 ? maxLength : undefined}
            protect={protect}
            packing={packing}
          />
        </div>
      ) : null}
    </Section>
  );
}
