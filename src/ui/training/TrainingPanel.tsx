import { preferenceDataOf, validateSettings } from '../../state/settings';
import { isActive, trainingErrorTitle } from '../../state/slices/training';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { formatDuration, formatLoss } from '../common/format';
import { Section } from '../common/Section';
import { LossChart } from './LossChart';
import { PreferenceChart } from './PreferenceChart';
import { METHOD_INFO } from '../../settings/run-settings';
import { PastRuns } from './PastRuns';

const END_TEXT = { finished: 'Training finished.', stopped: 'Training stopped.' } as const;

/** "Step N of M · loss X.XXX": the one live region of the studio. */
export function statusText(step: number, maxSteps: number, loss: number): string {
  return `Step ${step} of ${maxSteps} · loss ${formatLoss(loss)}`;
}

export function TrainingPanel() {
  const training = useStudio((s) => s.training);
  const ready = useStudio((s) => s.model.status === 'ready' && s.dataset.status === 'ready');
  const start = useStudio((s) => s.startTraining);
  const pause = useStudio((s) => s.pauseTraining);
  const resume = useStudio((s) => s.resumeTraining);
  const stop = useStudio((s) => s.stopTraining);
  const invalid = useStudio((s) => s.showSettingsErrors && Object.keys(validateSettings(s.settings, { model: s.model.summary, examples: s.dataset.summary?.examples ?? null, preferenceData: preferenceDataOf(s.dataset.summary) })).length > 0);
  const active = isActive(training.status);
  const m = training.latest;
  const paused = training.status === 'paused';
  const method = training.settings?.train.method ?? 'sft';

  return (
    <Section id="train" step={4} title="Train">
      <div className="row controls">
        <button type="button" onClick={() => void start()} disabled={!ready || active}>
          Start training
        </button>
        {paused ? (
          <button type="button" onClick={() => void resume()}>
            Resume
          </button>
        ) : (
          <button type="button" className="secondary" onClick={() => void pause()} disabled={training.status !== 'running'}>
            Pause
          </button>
        )}
        <button type="button" className="secondary" onClick={() => void stop()} disabled={!active || training.status === 'stopping'}>
          Stop
        </button>
        {!ready ? <span className="muted">Load a model and a dataset to start.</span> : null}
        {invalid ? <span className="field-error">Fix the settings above.</span> : null}
      </div>
      <p role="status" aria-live="polite" aria-atomic="true" className="status-line" data-testid="train-status">
        {m ? statusText(m.step, m.maxSteps, m.loss) : training.status === 'starting' ? 'Preparing the GPU…' : ''}
      </p>
      <dl className="facts stats">
        <dt>State</dt>
        <dd>{training.status === 'finished' || training.status === 'stopped' ? END_TEXT[training.status] : training.status}</dd>
        <dt>Tokens/s</dt>
        <dd>{m ? m.tokensPerSec.toFixed(0) : '–'}</dd>
        <dt>Elapsed</dt>
        <dd>{m ? formatDuration(m.elapsedMs) : '–'}</dd>
        <dt>ETA</dt>
        <dd>{m && active ? formatDuration(m.etaMs) : '–'}</dd>
        <dt>Learning rate</dt>
        <dd>{m ? m.lr.toExponential(2) : '–'}</dd>
        <dt>Gradient norm</dt>
        <dd>{m?.gradNorm != null ? m.gradNorm.toFixed(3) : '–'}</dd>
        <dt>Validation loss</dt>
        <dd>{training.valLoss !== null ? formatLoss(training.valLoss) : '–'}</dd>
        <dt>Checkpoint</dt>
        <dd>{training.checkpointStep !== null ? `step ${training.checkpointStep}` : '–'}</dd>
      </dl>
      {training.resuming ? <p className="muted">{training.resuming}</p> : null}
      {training.notice ? (
        <p className="notice" role="note">
          {training.notice}
        </p>
      ) : null}
      <ErrorBox error={training.error} title={trainingErrorTitle(training)} />
      <LossChart />
      {METHOD_INFO[method].preference ? <PreferenceChart key={method} method={method} /> : null}
      <PastRuns />
    </Section>
  );
}
