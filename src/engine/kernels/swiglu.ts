// SwiGLU (shaders/swiglu.wgsl): out = silu(gate) · up and its backward, elementwise over n floats.
import code from '../../../shaders/swiglu.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const swigluShader = { name: 'swiglu', code };
const WG = 256;

function workgroups(rec: Recorder, n: number): [number, number] {
  return grid(Math.ceil(n / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension);
}

/** out (n) = silu(gate) · up. */
export function swigluForward(rec: Recorder, out: Buf, gate: Buf, up: Buf, n: number): void {
  rec.dispatch({ shader: swigluShader, entry: 'swiglu_forward', overrides: { WG }, uniforms: { n }, bindings: [out, gate, up], workgroups: workgroups(rec, n) });
}

/** dgate (n), dup (n) = gradients of out = silu(gate) · up; both overwritten. */
export function swigluBackward(rec: Recorder, dgate: Buf, dup: Buf, dout: Buf, gate: Buf, up: Buf, n: number): void {
  rec.dispatch({
    shader: swigluShader,
    entry: 'swiglu_backward',
    overrides: { WG },
    uniforms: { n },
    bindings: [dgate, dup, dout, gate, up],
    workgroups: workgroups(rec, n),
  });
}

/** σ(x) without overflow for any x. */
function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  const s = 1 / (1 + e);
  return x >= 0 ? s : e * s;
}

/** Float32Array, or Float64Array for finite-difference tests. */
type Arr = Float32Array | Float64Array;

export function swigluForwardCpu(out: Arr, gate: Arr, up: Arr, n: number): void {
  for (let i = 0; i < n; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

export function swigluBackwardCpu(dgate: Arr, dup: Arr, dout: Arr, gate: Arr, up: Arr, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    dgate[i] = dout[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] = dout[i] * g * s;
  }
}
