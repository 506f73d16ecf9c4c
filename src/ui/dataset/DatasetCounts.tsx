import type { DatasetDetails } from '../../worker/dataset';
import type { DatasetSummary } from '../../worker/protocol';
import { formatCount } from '../common/format';
import { maxValidationExamples } from '../../settings/run-settings';

/** Examples longer than maxLength, and those that keep no trained token when cut to it. */
export function truncation(details: DatasetDetails | null, maxLength: number): { truncated: number; dropped: number } | null {
  if (!details || !(maxLength > 0)) return null;
  let truncated = 0;
  let dropped = 0;
  for (let i = 0; i < details.lengths.length; i++) {
    if (details.lengths[i] > maxLength) truncated++;
    if (details.keepAt[i] > maxLength) dropped++;
  }
  return { truncated, dropped };
}

/** Examples, tokens, truncated and skipped, as a definition list the tests and people read. */
export function DatasetCounts({ summary, details, maxLength, validationExamples }: { summary: DatasetSummary; details: DatasetDetails | null; maxLength: number; validationExamples: number | null }) {
  const t = truncation(details, maxLength);
  return (
    <dl className="facts dataset-counts" data-testid="dataset-counts">
      <dt>Examples</dt>
      <dd>{summary.examples}</dd>
      <dt>Tokens</dt>
      <dd title={String(summary.tokens)}>{formatCount(summary.tokens)}</dd>
      <dt>Trained tokens</dt>
      <dd title={String(summary.trainedTokens)}>
        {formatCount(summary.trainedTokens)} ({summary.tokens ? Math.round((100 * summary.trainedTokens) / summary.tokens) : 0}%)
      </dd>
      <dt>Truncated</dt>
      <dd data-testid="dataset-truncated">
        {t ? (
          <>
            {t.truncated} at {maxLength} tokens
            {t.dropped ? <span className="warning"> · {t.dropped} left with nothing to train (dropped)</span> : null}
          </>
        ) : (
          '–'
        )}
      </dd>
      <dt>Skipped</dt>
      <dd data-testid="dataset-skipped">{summary.skippedTotal}</dd>
      <dt>Validation</dt>
      <dd data-testid="dataset-validation">
        {details?.validation
          ? `${details.validation.examples} examples in ${details.validation.fileName}`
          : validationExamples
            ? `${Math.min(validationExamples, maxValidationExamples(summary.examples))} examples held out`
            : 'none'}
      </dd>
    </dl>
  );
}
