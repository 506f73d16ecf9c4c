import { useMemo } from 'react';
import { estimateMemory, formatBytes } from '../../state/memory';
import { toTrainSettings } from '../../state/settings';
import { useStudio } from '../../state/store';
import { checkFit } from './gpu-fit';
import { GpuFitNotice } from './GpuFitNotice';

/** The GPU memory estimate for the current settings; updates as they change. */
export function MemoryEstimateView({ valid }: { valid: boolean }) {
  const settings = useStudio((s) => s.settings);
  const model = useStudio((s) => s.model.summary);
  const gpu = useStudio((s) => s.gpu.info);
  const examples = useStudio((s) => s.dataset.summary?.examples ?? null);
  const longest = useStudio((s) => s.dataset.summary?.longestExample ?? null);
  const train = useMemo(() => (model && valid ? toTrainSettings(settings, examples) : null), [model, valid, settings, examples]);
  const est = useMemo(() => (model && train ? estimateMemory(model, train, gpu) : null), [model, train, gpu]);
  // The adapter's buffer limits against what the engine allocates (src/quant/memory.ts).
  const fit = useMemo(() => (model && train && gpu ? checkFit(model, train, gpu, longest) : null), [model, train, gpu, longest]);
  if (!model) return <p className="muted">The memory estimate appears once a model is loaded.</p>;
  if (!est) return <p className="muted">The memory estimate appears once the settings are valid.</p>;
  return (
    <div className="memory" data-testid="memory-estimate">
      <p>
        Estimated GPU memory: <strong>{formatBytes(est.total)}</strong> (weights {formatBytes(est.weights)}, LoRA and optimizer {formatBytes(est.lora)}, activations{' '}
        {formatBytes(est.activations)}).
      </p>
      {fit && gpu && !fit.fits ? <GpuFitNotice check={fit} gpu={gpu} model={model} /> : null}
      {est.blocker && (!fit || fit.fits) ? <p className="error">{est.blocker}</p> : null}
      {est.warning ? <p className="warning">{est.warning}</p> : null}
    </div>
  );
}
