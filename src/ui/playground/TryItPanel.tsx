// "Try it": one prompt, answered by the base model and by the adapter side by side, streamed from
// the engine worker (KV-cache decoding; greedy at temperature 0; ends at the end of the turn).
import { useId } from 'react';
import { validateTryIt, type TryItForm } from '../../state/slices/tryit';
import { useStudio } from '../../state/store';
import type { GenerateOutput } from '../../worker/protocol';
import { ErrorBox } from '../common/ErrorBox';
import { NumberInput } from '../common/NumberInput';
import { Section } from '../common/Section';
import './try-it.css';

const REASON: Record<GenerateOutput['reason'], string> = {
  stop: 'end of turn',
  length: 'max new tokens',
  context: 'context full',
  cancelled: 'stopped',
};

function Field({ name, label, hint, step, min, max, error, disabled }: { name: Exclude<keyof TryItForm, 'prompt'>; label: string; hint: string; step: string; min: number; max: number; error?: string; disabled: boolean }) {
  const value = useStudio((s) => s.tryIt.form[name]);
  const setTryIt = useStudio((s) => s.setTryIt);
  return <NumberInput id={`tryit-${name}`} label={label} hint={hint} value={value} onChange={(v) => setTryIt({ [name]: v })} step={step} min={min} max={max} error={error} disabled={disabled} />;
}

function Output({ title, testId, text, tokens, out, running, note }: { title: string; testId: string; text: string | null; tokens: number; out: GenerateOutput | null; running: boolean; note: string | null }) {
  const id = useId();
  return (
    <div className="tryit-side">
      <h3 id={id}>{title}</h3>
      <div className="tryit-text" role="log" aria-labelledby={id} aria-busy={running} data-testid={`tryit-${testId}`}>
        {text ?? ''}
        {running ? <span className="tryit-caret" aria-hidden="true" /> : null}
      </div>
      <p className="muted tryit-meta">
        {note ??
          (out
            ? `${out.tokens} token${out.tokens === 1 ? '' : 's'} · ${REASON[out.reason]}${out.tokensPerSec !== null ? ` · ${out.tokensPerSec.toFixed(1)} tokens/s` : ''}`
            : running
              ? `${tokens} token${tokens === 1 ? '' : 's'}…`
              : '')}
      </p>
    </div>
  );
}

export function TryItPanel() {
  const t = useStudio((s) => s.tryIt);
  const modelReady = useStudio((s) => s.model.status === 'ready');
  const trainStatus = useStudio((s) => s.training.status);
  const setTryIt = useStudio((s) => s.setTryIt);
  const generate = useStudio((s) => s.generate);
  const stop = useStudio((s) => s.stopGenerating);
  const errors = validateTryIt(t.form);
  const running = t.status === 'running';
  const training = trainStatus === 'starting' || trainStatus === 'running' || trainStatus === 'stopping';
  const hasRun = trainStatus === 'paused' || trainStatus === 'finished' || trainStatus === 'stopped';
  const blocked = !modelReady ? 'Load a model first.' : training ? 'Pause or stop training to try the model.' : null;
  const adapterNote = t.result && !t.result.adapter ? 'No adapter in this session yet: train (or pause a run) to compare.' : !t.result && !running && !hasRun ? 'Available once a run has trained an adapter (paused, stopped or finished).' : null;
  const promptId = 'tryit-prompt';

  return (
    <Section id="tryit" step={5} title="Try it">
      <p className="muted">
        The prompt is sent as a user turn in the model&apos;s chat template; both sides decode with the same settings and seed
        and stop at the end of the turn. Temperature 0 is greedy.
      </p>
      <div className={errors.prompt && t.form.prompt !== '' ? 'field invalid' : 'field'}>
        <label htmlFor={promptId}>Prompt</label>
        <textarea id={promptId} rows={3} value={t.form.prompt} disabled={running} onChange={(e) => setTryIt({ prompt: e.target.value })} />
      </div>
      <div className="grid">
        <Field name="temperature" label="Temperature" hint="0 = greedy (always the most likely token); higher = more varied." step="0.1" min={0} max={10} error={errors.temperature} disabled={running} />
        <Field name="topP" label="Top-p" hint="Sample only from the most likely tokens whose probabilities add up to this (1 = all)." step="0.05" min={0} max={1} error={errors.topP} disabled={running} />
        <Field name="maxNewTokens" label="Max new tokens" hint="The longest reply, in tokens; a reply also ends at the end of its turn." step="1" min={1} max={2048} error={errors.maxNewTokens} disabled={running} />
      </div>
      <div className="row controls">
        <button type="button" onClick={() => void generate()} disabled={running || blocked !== null || Object.keys(errors).length > 0}>
          Generate
        </button>
        {running ? (
          <button type="button" className="secondary" onClick={() => void stop()}>
            Cancel generation
          </button>
        ) : null}
        {blocked ? <span className="muted">{blocked}</span> : null}
      </div>
      <ErrorBox error={t.error} title="Generation failed" />
      <div className="tryit-outputs">
        <Output title="Base model" testId="base" text={t.base} tokens={t.tokens.base} out={t.result?.base ?? null} running={running} note={null} />
        <Output
          title="With adapter"
          testId="adapter"
          text={t.adapter}
          tokens={t.tokens.adapter}
          out={t.result?.adapter ?? null}
          running={running && t.adapter !== null}
          note={adapterNote}
        />
        {t.onnx !== null || t.result?.onnx ? (
          <Output
            title="Exported for the web (onnxruntime-web)"
            testId="onnx"
            text={t.onnx}
            tokens={t.tokens.onnx}
            out={t.result?.onnx ?? null}
            running={running && t.onnx !== null}
            note={null}
          />
        ) : null}
      </div>
    </Section>
  );
}
