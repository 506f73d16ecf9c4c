// The GGUF downloads of the Export step: the model with the adapter merged in, and the adapter as
// llama.cpp's --lora / Ollama's ADAPTER take it, each in a .zip with an Ollama Modelfile and a README
// (the worker builds them from the loaded model and the trained adapter: src/export/gguf).
import { useState } from 'react';
import { engine } from '../../state/engine';
import { saveFile } from '../../state/slices/export-files';
import { useStudio } from '../../state/store';
import { toErrorInfo, type ErrorInfo } from '../../worker/protocol';
import { ErrorBox } from '../common/ErrorBox';

type GgufType = 'f32' | 'f16' | 'q8_0' | 'q4_0';

async function downloadGguf(format: 'gguf' | 'gguf-adapter', type: GgufType): Promise<string[]> {
  // The worker streams the files into one .zip held as Blobs; the page never reads it back.
  const { zip, files, warnings } = await engine().call('exportGguf', { format, type });
  // "Push to the Hub" sends the folder too, beside the adapter (gguf-merged/ or gguf-adapter/).
  useStudio.getState().addToPush({ kind: 'gguf', merged: format === 'gguf' }, files);
  saveFile(format === 'gguf' ? `lora-merged-${type}.gguf.zip` : `lora-adapter-${type}.gguf.zip`, zip, 'application/zip');
  return warnings;
}

export function GgufExport({ disabled }: { disabled: boolean }) {
  const [type, setType] = useState<GgufType>('f16');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const run = async (format: 'gguf' | 'gguf-adapter'): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setWarnings(await downloadGguf(format, format === 'gguf-adapter' && (type === 'q8_0' || type === 'q4_0') ? 'f32' : type));
    } catch (e) {
      setError(toErrorInfo(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <p className="muted">
        For llama.cpp, Ollama and LM Studio: a GGUF of the model with the adapter merged in, or the adapter alone (apply it to the
        same base model with <code>--lora</code> or Ollama's <code>ADAPTER</code>). Each .zip holds an Ollama <code>Modelfile</code> and
        a README with the commands.
      </p>
      <div className="row">
        <label>
          Type{' '}
          <select value={type} onChange={(e) => setType(e.target.value as GgufType)} disabled={busy} aria-label="GGUF type">
            <option value="f32">F32</option>
            <option value="f16">F16</option>
            <option value="q8_0">Q8_0</option>
            <option value="q4_0">Q4_0</option>
          </select>
        </label>
        <button type="button" onClick={() => void run('gguf')} disabled={disabled || busy}>
          Download GGUF (merged)
        </button>
        <button type="button" className="secondary" onClick={() => void run('gguf-adapter')} disabled={disabled || busy}>
          Download GGUF adapter
        </button>
        {busy ? <span className="muted">Writing GGUF…</span> : null}
      </div>
      {warnings.map((w) => (
        <p key={w} className="muted">
          {w}
        </p>
      ))}
      <ErrorBox error={error} title="GGUF export failed" />
    </>
  );
}
