import type { ErrorInfo } from '../worker/protocol';

/** Shown instead of the studio when this browser or machine cannot run WebGPU. */
export function NoWebGpu({ error }: { error: ErrorInfo | null }) {
  const noApi = !(navigator as Navigator & { gpu?: GPU }).gpu;
  return (
    <main className="no-webgpu">
      <h1>WebGPU is not available</h1>
      <p>
        LoRA Studio trains on your GPU through WebGPU, and {noApi ? 'this browser does not offer WebGPU' : 'this browser found no usable GPU adapter'}. Nothing can be
        trained here.
      </p>
      {error ? (
        <p className="muted">
          Details: {error.message} ({error.name})
        </p>
      ) : null}
      <h2>What works</h2>
      <ul>
        <li>Chrome or Edge 113 or newer on Windows, macOS or ChromeOS; on Linux, Chrome with WebGPU enabled (chrome://flags/#enable-unsafe-webgpu).</li>
        <li>Safari 26 or newer on macOS, iOS and iPadOS.</li>
        <li>Firefox 141 or newer on Windows.</li>
        <li>Hardware acceleration turned on in the browser settings, and an up-to-date GPU driver; chrome://gpu shows whether WebGPU is enabled.</li>
        <li>Without a browser GPU, the same engine runs from the command line: <code>npm run cli -- train …</code>.</li>
      </ul>
    </main>
  );
}
