import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { Section } from '../common/Section';

export function ExportPanel() {
  const training = useStudio((s) => s.training);
  const exportState = useStudio((s) => s.exportState);
  const hubId = useStudio((s) => s.model.summary?.hubId ?? null);
  const downloadAdapter = useStudio((s) => s.downloadAdapter);
  const downloadConfig = useStudio((s) => s.downloadConfig);
  const downloadZip = useStudio((s) => s.downloadZip);
  const downloadRecipe = useStudio((s) => s.downloadRecipe);
  const trained = (training.status === 'finished' || training.status === 'stopped') && (training.result?.steps ?? 0) > 0;
  const disabled = !trained || exportState.busy;

  return (
    <Section id="export" step={6} title="Export">
      <p className="muted">
        The adapter is written as PEFT writes it: <code>adapter_model.safetensors</code> and <code>adapter_config.json</code>
        {hubId ? (
          <>
            {' '}
            with base model <code>{hubId}</code>
          </>
        ) : null}
        . Load both with <code>PeftModel.from_pretrained</code>. The .zip holds both and a <code>README.md</code> model card (settings, data size, final losses, a
        loading snippet).
      </p>
      <div className="row">
        <button type="button" onClick={() => void downloadAdapter()} disabled={disabled}>
          Download adapter
        </button>
        <button type="button" onClick={() => void downloadConfig()} disabled={disabled}>
          Download config
        </button>
        <button type="button" className="secondary" onClick={() => void downloadZip()} disabled={disabled}>
          Download .zip
        </button>
        <button type="button" className="secondary" onClick={() => void downloadRecipe()} disabled={disabled} title="The same job for accelerate launch (transformers + PEFT) or axolotl: data, initial adapter, train.py, configs, README">
          Continue on a cluster
        </button>
        {!trained ? <span className="muted">Available after a run.</span> : null}
      </div>
      <ErrorBox error={exportState.error} title="Export failed" />
    </Section>
  );
}
