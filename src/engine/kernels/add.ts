// Residual add y += x (shaders/add.wgsl): GPU dispatch and its CPU twin; y *= alpha. Also the split-K reduce
// (split_reduce): the fixed-order sum of a split GEMM's partials (matmul.ts, matmul-q.ts).
import code from '../../../shaders/add.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const addShader = { name: 'add', code };
const WG = 256;

/** y (n) += x (n). */
export function addInplace(rec: Recorder, y: Buf, x: Buf, n: number): void {
  rec.dispatch({
    shader: addShader,
    entry: 'add_inplace',
    uniforms: { n, slices: 0, stride: 0, accumulate: 0, alpha: 0 }, // split_reduce's fields unused here
    bindings: [y, x],
    workgroups: grid(Math.ceil(n / WG)),
  });
}

/** y (n) = alpha · y, in place. */
export function scaleInplace(rec: Recorder, y: Buf, alpha: number, n: number): void {
  rec.dispatch({
    shader: addShader,
    entry: 'scale_inplace',
    uniforms: { n, slices: 0, stride: 0, accumulate: 0, alpha },
    bindings: [y],
    workgroups: grid(Math.ceil(n / WG)),
  });
}

/**
 * y (n) = (or += when accumulate) alpha · Σ_s partials[s·stride + i], s = 0..slices−1 in order.
 * partials must not alias y.
 */
export function splitReduce(rec: Recorder, y: Buf, partials: Buf, n: number, slices: number, stride: number, accumulate: boolean, alpha = 1): void {
  const maxPerDim = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
  rec.dispatch({
    shader: addShader,
    entry: 'split_reduce',
    uniforms: { n, slices, stride, accumulate: accumulate ? 1 : 0, alpha },
    bindings: [y, partials],
    workgroups: grid(Math.min(Math.ceil(n / WG), maxPerDim * maxPerDim), maxPerDim),
  });
}

export function addInplaceCpu(y: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] += x[i];
}

/** Twin of scale_inplace, in f32 as the GPU multiplies. */
export function scaleInplaceCpu(y: Float32Array, alpha: number, n: number): void {
  for (let i = 0; i < n; i++) y[i] = Math.fround(Math.fround(alpha) * y[i]);
}

/** Twin of split_reduce, in f32 as the GPU sums (the same order, so the same bits). */
export function splitReduceCpu(y: Float32Array, partials: Float32Array, n: number, slices: number, stride: number, accumulate: boolean, alpha = 1): void {
  const fr = Math.fround;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let s = 0; s < slices; s++) sum = fr(sum + partials[s * stride + i]);
    const v = fr(fr(alpha) * sum);
    y[i] = accumulate ? fr(v + y[i]) : v;
  }
}
