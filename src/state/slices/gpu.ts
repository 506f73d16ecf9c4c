import { engine } from '../engine';
import { toErrorInfo, type ErrorInfo, type GpuInfo } from '../../worker/protocol';
import type { Slice } from './types';

export interface GpuSlice {
  gpu: { status: 'checking' | 'ready' | 'unavailable'; info: GpuInfo | null; error: ErrorInfo | null };
  /** Asks the worker for a WebGPU device (the page checks navigator.gpu itself first). */
  probeGpu(): Promise<void>;
}

export const createGpuSlice: Slice<GpuSlice> = (set) => ({
  gpu: { status: 'checking', info: null, error: null },
  async probeGpu() {
    if (!(navigator as Navigator & { gpu?: GPU }).gpu) {
      set({ gpu: { status: 'unavailable', info: null, error: { name: 'GpuUnavailableError', message: 'This browser has no WebGPU (navigator.gpu is missing).' } } });
      return;
    }
    try {
      const info = await engine().call('probe', {});
      set({ gpu: { status: 'ready', info, error: null } });
    } catch (e) {
      set({ gpu: { status: 'unavailable', info: null, error: toErrorInfo(e) } });
    }
  },
});
