import { useEffect } from 'react';
import { useStudio } from '../state/store';
import { DatasetPanel } from './dataset/DatasetPanel';
import { ExportPanel } from './export/ExportPanel';
import { ModelPanel } from './model/ModelPanel';
import { NoWebGpu } from './NoWebGpu';
import { SettingsPanel } from './settings/SettingsPanel';
import { TrainingPanel } from './training/TrainingPanel';
import { TryItPanel } from './playground/TryItPanel';

export function App() {
  const gpu = useStudio((s) => s.gpu);
  const probeGpu = useStudio((s) => s.probeGpu);
  const refreshRuns = useStudio((s) => s.refreshRuns);
  const resumeInterrupted = useStudio((s) => s.resumeInterrupted);
  useEffect(() => {
    void probeGpu();
  }, [probeGpu]);
  // Once the GPU answers: list past runs, and continue a run a reload or a crash interrupted.
  const ready = gpu.status === 'ready';
  useEffect(() => {
    if (!ready) return;
    void refreshRuns().then(() => resumeInterrupted());
  }, [ready, refreshRuns, resumeInterrupted]);

  if (gpu.status === 'unavailable') return <NoWebGpu error={gpu.error} />;
  return (
    <>
      <header className="top">
        <h1>LoRA Studio</h1>
        <p className="muted">
          Fine-tune LoRA adapters for Llama, Qwen, Gemma and Phi models on your own GPU. Nothing leaves this machine.
          {gpu.info ? <span className="gpu-name"> GPU: {gpu.info.adapter}</span> : <span className="gpu-name"> Checking the GPU…</span>}
          <a className="gpu-name" href="bench.html">Benchmarks</a>
        </p>
        <nav aria-label="Steps">
          <ol className="steps">
            <li><a href="#model">Model</a></li>
            <li><a href="#dataset">Dataset</a></li>
            <li><a href="#settings">Settings</a></li>
            <li><a href="#train">Train</a></li>
            <li><a href="#tryit">Try it</a></li>
            <li><a href="#export">Export</a></li>
          </ol>
        </nav>
      </header>
      <main className="studio">
        <ModelPanel />
        <DatasetPanel />
        <SettingsPanel />
        <TrainingPanel />
        <TryItPanel />
        <ExportPanel />
      </main>
    </>
  );
}
