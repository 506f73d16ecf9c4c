// Frozen projections: y = x·Wᵀ (+ b) and dx = dy·W, whatever the weight's storage.
import type { Buf, Recorder } from '../../gpu/gpu';
import { linearBackwardInput, linearForward, type MatmulSplit } from '../kernels/matmul';
import { embeddingForward } from '../kernels/embedding';
import { embeddingForwardQ, linearBackwardInputQ, linearForwardQ, linearGemvQ } from '../kernels/matmul-q';
import { decodeGemv } from '../kernels/decode';
import { scaleInplace } from '../kernels/add';
import { isQuantized, type LinearWeight, type MatrixWeight } from './gpu-weights';

/** out (N,Out) = inp (N,In)·Wᵀ + b, or += when accumulate. */
export function projForward(rec: Recorder, out: Buf, inp: Buf, w: LinearWeight, N: number, In: number, Out: number, accumulate = false): void {
  if (isQuantized(w.weight)) linearForwardQ(rec, out, inp, w.weight, w.bias, N, In, Out, accumulate);
  else linearForward(rec, out, inp, w.weight, w.bias, N, In, Out, accumulate);
}

/** projForward for one token row (decoding): a matrix-vector product, f32 or quantized. */
export function projGemv(rec: Recorder, out: Buf, inp: Buf, w: LinearWeight, In: number, Out: number): void {
  if (isQuantized(w.weight)) linearGemvQ(rec, out, inp, w.weight, w.bias, 1, In, Out);
  else decodeGemv(rec, out, inp, w.weight, w.bias, 1, In, Out);
}

/**
 * dinp (N,In) = dout (N,Out)·W, or += when accumulate. split: let the reduction over Out split
 * (split-K, matmul.ts's policy) through that scratch (the LM head); without it, never split.
 */
export function projBackwardInput(
  rec: Recorder,
  dinp: Buf,
  dout: Buf,
  w: LinearWeight,
  N: number,
  In: number,
  Out: number,
  accumulate: boolean,
  split?: MatmulSplit,
): void {
  if (isQuantized(w.weight)) linearBackwardInputQ(rec, dinp, dout, w.weight, N, In, Out, accumulate, 'auto', split);
  else linearBackwardInput(rec, dinp, dout, w.weight, N, In, Out, accumulate, 'auto', split);
}

/** out (N,C) = table[ids] · scale: the token embedding, whatever its storage (scale: Gemma's sqrt(hidden), arch embedScale). */
export function embed(rec: Recorder, out: Buf, ids: Buf, table: MatrixWeight, N: number, C: number, scale: number): void {
  if (isQuantized(table)) embeddingForwardQ(rec, out, ids, table, N, C);
  else embeddingForward(rec, out, ids, table, N, C);
  if (scale !== 1) scaleInplace(rec, out, scale, N * C);
}
