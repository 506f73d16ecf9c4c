import { useMemo } from 'react';
import { estimateMemory, formatBytes } from '../../state/memory';
import { toTrainSettings } from '../../state/settings';
import { useStudio } from '../../state/store';

/** The GPU memory estimate for the current settings; updates as they change. */
export function MemoryEstimateView({ valid }: { valid: boolean }) {
  const settings = useStudio((s) => s.settings);
  const model = useStudio((s) => s.model.summary);
  const gpu = useStudio((s) => s.gpu.info);
  const examples = useStudio((s) => s.dataset.summary?.examples ?? null);
  const est = useMemo(() => (model && valid ? estimateMemory(model, toTrainSettings(settings, examples), gpu) : null), [model, valid, settings, examples, gpu]);
  if (!model) return <p className="muted">The memory estimate appears once a model is loaded.</p>;
  if (!est) return <p className="muted">The memory estimate appears once the settings are valid.</p>;
  return (
    <div className="memory" data-testid="memory-estimate">
      <p>
        Estimated GPU memory: <strong>{formatBytes(est.total)}</strong> (weights {formatBytes(est.weights)}, LoRA and optimizer {formatBytes(est.lora)}, activations{' '}
        {formatBytes(est.activations)}).
      </p>
      {est.blocker ? <p className="error">{est.blocker}</p> : null}
      {est.warning ? <p className="warning">{est.warning}</p> : null}
    </div>
  );
}
