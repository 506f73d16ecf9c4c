import './gpu-fit.css';
import { formatBytes } from '../common/format';
import type { GpuInfo, ModelSummary } from '../../worker/protocol';
import { describeEstimate, LIMIT_NAMES, type FitCheck } from '../../state/gpu-fit';

/**
 * "This GPU adapter is too small": which buffer does not fit which limit, with the numbers, and
 * what would work instead. Shown in the settings' memory section while the run cannot fit.
 */
export function GpuFitNotice({ check, gpu, model }: { check: FitCheck; gpu: GpuInfo; model: ModelSummary }) {
  if (check.fits) return null;
  return (
    <div className="error gpu-fit" role="alert" aria-label="GPU too small" data-testid="gpu-too-small">
      <h3>{check.modelTooBig ? `This GPU adapter is too small for ${model.name}` : 'This GPU adapter is too small for this run'}</h3>
      <p>
        {gpu.adapter || 'This GPU'} allows at most {formatBytes(gpu.maxBufferSize)} per buffer (maxBufferSize) and {formatBytes(gpu.maxStorageBufferBindingSize)} per storage
        binding (maxStorageBufferBindingSize). At batch size {check.batch} and {check.seq} tokens per sequence:
      </p>
      <ul>
        {check.problems.map((p) => (
          <li key={p.limit}>
            the {p.label} needs <strong>{formatBytes(p.bytes)}</strong>, over the {LIMIT_NAMES[p.limit]} of {formatBytes(p.max)}.
          </li>
        ))}
      </ul>
      <p>
        <strong>What would work:</strong>
      </p>
      <ul data-testid="gpu-fit-suggestions">
        {check.suggestions.map((s) => (
          <li key={s}>{s}</li>
        ))}
      </ul>
      <p className="gpu-fit-estimate">Estimate: {describeEstimate(check.estimate)}.</p>
    </div>
  );
}
