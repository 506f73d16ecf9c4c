// A kernel check: run a kernel on the GPU and its CPU twin on the same random inputs, and report
// the error. Vitest (Node, Dawn on SwiftShader) and the e2e kernel page (Chromium) run the same
// checks, so a kernel is proven in both places. No vitest import here.
import type { Gpu } from '../../gpu/gpu';

export interface CheckResult {
  /** Measured error (the measure is the check's own: max abs or relative L2). */
  error: number;
  tolerance: number;
}

export interface KernelCheck {
  /** e.g. "rmsnorm forward N=33 C=70". */
  name: string;
  run(gpu: Gpu): Promise<CheckResult>;
}
