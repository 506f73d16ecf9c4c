// WebGPU in the browser or a worker: navigator.gpu.
import { Gpu, type GpuOptions } from './gpu';

export function createBrowserGpu(options: GpuOptions = {}): Promise<Gpu> {
  const api = typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: GPU }).gpu : undefined;
  return Gpu.create(api, options);
}
