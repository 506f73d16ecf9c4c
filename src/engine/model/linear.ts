// Frozen projections: y = x·Wᵀ (+ b) and dx = dy·W, whatever the weight's storage.
import type { Buf, Recorder } from '../../gpu/gpu';
import { linearBackwardInput, linearForward } from '../kernels/matmul';
import type { LinearWeight } from './gpu-weights';

/** out (N,Out) = inp (N,In)·Wᵀ + b, or += when accumulate. */
export function projForward(rec: Recorder, out: Buf, inp: Buf, w: LinearWeight, N: number, In: number, Out: number, accumulate = false): void {
  linearForward(rec, out, inp, w.weight, w.bias, N, In, Out, accumulate);
}

/** dinp (N,In) = dout (N,Out)·W, or += when accumulate. */
export function projBackwardInput(rec: Recorder, dinp: Buf, dout: Buf, w: LinearWeight, N: number, In: number, Out: number, accumulate: boolean): void {
  linearBackwardInput(rec, dinp, dout, w.weight, N, In, Out, accumulate);
}
