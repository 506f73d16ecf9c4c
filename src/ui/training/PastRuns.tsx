import { useEffect, useRef } from 'react';
import { useStudio } from '../../state/store';
import { formatLoss } from '../common/format';
import { ErrorBox } from '../common/ErrorBox';
import { canResume, isActive, runStateLabel } from '../../state/slices/training';

/** A run's loss curve as a small canvas line. */
function Sparkline({ values }: { values: number[] }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx || values.length < 2) return;
    const w = c.width;
    const h = c.height;
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = '#1a56db';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = (i / (values.length - 1)) * (w - 2) + 1;
      const y = h - 2 - ((v - lo) / Math.max(hi - lo, 1e-9)) * (h - 4);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }, [values]);
  return <canvas ref={ref} width={120} height={28} className="sparkline" aria-hidden="true" />;
}

/** Past runs kept in this browser, newest first, with their loss curves; resume, export or delete one. */
export function PastRuns() {
  const runs = useStudio((s) => s.pastRuns);
  const active = useStudio((s) => isActive(s.training.status));
  const action = useStudio((s) => s.pastRunAction);
  const resume = useStudio((s) => s.resumePastRun);
  const exportRun = useStudio((s) => s.exportPastRun);
  const remove = useStudio((s) => s.deletePastRun);
  if (runs.length === 0) return null;
  const busy = active || action.exporting !== null;
  return (
    <details className="past-runs">
      <summary>Past runs ({runs.length})</summary>
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Model</th>
            <th>Dataset</th>
            <th>Steps</th>
            <th>Last loss</th>
            <th>Loss curve</th>
            <th>State</th>
            <th>Checkpoint</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const h = r.history;
            const last = h.loss.length ? h.loss[h.loss.length - 1] : null;
            return (
              <tr key={r.id}>
                <td>{new Date(r.startedAt).toLocaleString()}</td>
                <td>{r.model.hubId ?? r.model.name}</td>
                <td>{r.dataset.fileName}</td>
                <td>
                  {h.steps.length ? h.steps[h.steps.length - 1] : 0} of {r.settings.train.maxSteps}
                </td>
                <td>{last !== null ? formatLoss(last) : '–'}</td>
                <td>
                  <Sparkline values={h.loss} />
                </td>
                <td title={r.error ? `${r.error.name}: ${r.error.message}` : undefined}>{runStateLabel(r)}</td>
                <td className="row-actions">
                  {r.checkpointStep > 0 ? `step ${r.checkpointStep} ` : '– '}
                  <button type="button" className="secondary" onClick={() => void resume(r.id)} disabled={busy || !canResume(r)} title="Continue from the checkpoint">
                    Resume
                  </button>
                  <button type="button" className="secondary" onClick={() => void exportRun(r.id)} disabled={busy || r.checkpointStep === 0} title="Download the checkpoint as a PEFT adapter (.zip)">
                    {action.exporting === r.id && action.as === 'adapter' ? 'Exporting…' : 'Export'}
                  </button>
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => void exportRun(r.id, 'cluster')}
                    disabled={busy || r.checkpointStep === 0 || r.checkpointStep >= r.settings.train.maxSteps}
                    title="Download the steps left as a job for Accelerate + transformers/PEFT, from the checkpoint's adapter, AdamW moments and step (.zip; loads the run's dataset)"
                  >
                    {action.exporting === r.id && action.as === 'cluster' ? 'Exporting…' : 'Continue on a cluster'}
                  </button>
                  <button type="button" className="secondary" onClick={() => void remove(r.id)} disabled={busy} title="Delete the run, its dataset copy and checkpoint">
                    Delete
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ErrorBox error={action.error} title="Past run" />
    </details>
  );
}
