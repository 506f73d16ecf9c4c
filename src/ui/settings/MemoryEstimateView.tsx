import { useMemo } from 'react';
import { toTrainSettings } from '../../state/settings';
import { useStudio } from '../../state/store';
import { formatBytes } from '../common/format';
import { checkFit, describeEstimate } from '../../state/gpu-fit';
import { GpuFitNotice } from './GpuFitNotice';

/**
 * The GPU memory estimate for the current settings (engine/train/memory.ts, for the loaded model's
 * spec), against this adapter's limits; updates as they change. "Start training" is gated by the
 * same check (state/slices/training.ts).
 */
export function MemoryEstimateView({ valid }: { valid: boolean }) {
  const settings = useStudio((s) => s.settings);
  const model = useStudio((s) => s.model.summary);
  const gpu = useStudio((s) => s.gpu.info);
  const examples = useStudio((s) => s.dataset.summary?.examples ?? null);
  const longest = useStudio((s) => s.dataset.summary?.longestExample ?? null);
  const lengths = useStudio((s) => s.dataset.details?.lengths ?? null);
  const train = useMemo(() => (model && valid ? toTrainSettings(settings, examples, lengths) : null), [model, valid, settings, examples, lengths]);
  const fit = useMemo(() => (model && train ? checkFit(model, train, gpu, longest) : null), [model, train, gpu, longest]);
  if (!model) return <p className="muted">The memory estimate appears once a model is loaded.</p>;
  if (!fit) return <p className="muted">The memory estimate appears once the settings are valid.</p>;
  const e = fit.estimate;
  return (
    <div className="memory" data-testid="memory-estimate">
      <p>
        Estimated GPU memory: <strong>{formatBytes(e.total_bytes)}</strong> ({describeEstimate(e)}); largest buffer {formatBytes(e.largest_buffer.bytes)}.
      </p>
      {gpu && !fit.fits ? <GpuFitNotice check={fit} gpu={gpu} model={model} /> : null}
      {fit.warning ? <p className="warning">{fit.warning}</p> : null}
    </div>
  );
}
