import { ONNX_ZIP_NAME } from '../../state/slices/export';
import { useStudio } from '../../state/store';
import { ErrorBox } from '../common/ErrorBox';
import { Section } from '../common/Section';
import { GgufExport } from './GgufExport';
import { HubPush } from './HubPush';

/** "For the web (ONNX)": the model with the adapter for Transformers.js / onnxruntime-web, and its check. */
function WebExport({ trained }: { trained: boolean }) {
  const onnx = useStudio((s) => s.onnxExport);
  const downloadOnnx = useStudio((s) => s.downloadOnnx);
  const checkOnnx = useStudio((s) => s.checkOnnx);
  const check = onnx.check;
  return (
    <>
      <h3>For the web (ONNX)</h3>
      <p className="muted">
        The base model with the adapter as an ONNX decoder that <code>@huggingface/transformers</code> loads with <code>from_pretrained</code> and onnxruntime-web runs
        (WebGPU or wasm): <code>config.json</code>, <code>generation_config.json</code>, the tokenizer files and <code>onnx/model*.onnx</code>. An f32 base gets the
        adapter merged; an 8-bit or 4-bit base keeps its blocks (MatMulNBits) with the adapter beside them. Once built, "Push to the Hub" sends the folder too, in{' '}
        <code>onnx-&lt;dtype&gt;/</code>.
      </p>
      <div className="row">
        <button type="button" onClick={() => void downloadOnnx()} disabled={!trained || onnx.busy}>
          {onnx.busy ? 'Exporting…' : 'For the web (ONNX)'}
        </button>
        <button type="button" className="secondary" onClick={() => void checkOnnx()} disabled={!onnx.done || onnx.checking || onnx.busy}>
          {onnx.checking ? 'Checking…' : 'Check the export'}
        </button>
        {onnx.done ? (
          <span className="muted" data-testid="onnx-export-done">
            {ONNX_ZIP_NAME}: {onnx.done.files.length} files, {(onnx.done.bytes / 2 ** 20).toFixed(1)} MiB ({onnx.done.quant === 'none' ? 'f32' : onnx.done.quant})
          </span>
        ) : null}
      </div>
      {check ? (
        <p role="status" data-testid="onnx-check" className={check.agree ? 'ok' : 'warn'}>
          {check.agree
            ? `The export agrees: the same ${check.engine.ids.length} greedy tokens in the engine and in onnxruntime-web (${check.backend}).`
            : `The export disagrees: the engine and onnxruntime-web (${check.backend}) chose different tokens (engine: ${JSON.stringify(check.engine.text)}; onnx: ${JSON.stringify(check.onnx.text)}).`}{' '}
          Largest logit difference over the prompt ({check.promptTokens} tokens): {check.maxPromptLogitDiff.toExponential(2)}.
        </p>
      ) : null}
      <ErrorBox error={onnx.error} title="Web export failed" />
    </>
  );
}

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
      <HubPush trained={trained} />
      <WebExport trained={trained} />
      <GgufExport disabled={!trained} />
    </Section>
  );
}
