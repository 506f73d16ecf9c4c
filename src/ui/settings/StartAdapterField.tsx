// "Start from an adapter": continue training a PEFT LoRA adapter (its adapter_config.json and
// adapter_model.safetensors) instead of a fresh one. The worker reads it against the loaded model;
// while it is chosen, its rank, alpha, targets and patterns are the run's.
import type { StartAdapterInfo } from '../../worker/protocol';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { Hint } from '../common/Hint';

const HINT =
  'Continue training an existing PEFT LoRA adapter for this model: choose its adapter_config.json and adapter_model.safetensors, ' +
  'or a .zip holding them (such as the one Export downloads). ' +
  'Its rank, alpha, target modules (and any rank_pattern, alpha_pattern or layers_to_transform) are kept; the other settings are yours.';

/** "r 8, alpha 16, q_proj, v_proj; rank_pattern {…}; layers 0, 1" */
export function describeStartAdapter(info: StartAdapterInfo): string {
  const { lora } = info;
  const parts = [`r ${lora.r}`, `alpha ${lora.alpha}${lora.useRslora ? ' (rsLoRA)' : ''}`, lora.targetModules.join(', ')];
  if (lora.rankPattern) parts.push(`rank_pattern ${JSON.stringify(lora.rankPattern)}`);
  if (lora.alphaPattern) parts.push(`alpha_pattern ${JSON.stringify(lora.alphaPattern)}`);
  if (lora.layersToTransform) parts.push(`layers ${lora.layersToTransform.join(', ')}`);
  return `${parts.join('; ')} (${info.params.toLocaleString('en-US')} parameters in ${info.tensors} tensors)`;
}

export function StartAdapterField({ locked }: { locked: boolean }) {
  const start = useStudio((s) => s.settings.startAdapter);
  const load = useStudio((s) => s.startAdapterLoad);
  const modelReady = useStudio((s) => s.model.status === 'ready');
  const hubId = useStudio((s) => s.model.summary?.hubId ?? null);
  const choose = useStudio((s) => s.loadStartAdapter);
  const clear = useStudio((s) => s.clearStartAdapter);
  return (
    <div className="field">
      {start ? <span className="label">Start from an adapter</span> : <label htmlFor="start-adapter">Start from an adapter (optional)</label>}
      <Hint id="start-adapter-hint" text={HINT} />
      {start ? (
        <p className="row" aria-label="Start adapter">
          <span>
            Continues <strong>{start.name}</strong>: {describeStartAdapter(start)}
          </span>
          <button type="button" className="link" onClick={clear} disabled={locked}>
            Start fresh instead
          </button>
        </p>
      ) : (
        <input
          id="start-adapter"
          type="file"
          multiple
          accept=".json,.safetensors,.zip"
          aria-describedby="start-adapter-hint"
          disabled={locked || !modelReady || load.status === 'loading'}
          onChange={(e) => {
            const files = e.target.files ? [...e.target.files] : [];
            e.target.value = ''; // choosing the same files again reads them again
            if (files.length) void choose(files);
          }}
        />
      )}
      {start?.baseModel && hubId && start.baseModel !== hubId ? (
        <span className="muted">
          Its config names {start.baseModel} as its base model, not {hubId}: its shapes fit, but check that this is the model it was trained for.
        </span>
      ) : null}
      {load.status === 'loading' ? <span className="muted">Reading the adapter…</span> : null}
      <ErrorBox error={load.error} title="Could not use the adapter" />
    </div>
  );
}
