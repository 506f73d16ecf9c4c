// The gated MLP activation (shaders/swiglu.wgsl): out = act(gate) · up and its backward, elementwise
// over n floats; act is SiLU (SwiGLU: Llama, Qwen, Phi-3) or GeLU-tanh (GeGLU: Gemma's gelu_pytorch_tanh).
import code from '../../../shaders/swiglu.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const swigluShader = { name: 'swiglu', code };
const WG = 256;

/** The gate's activation: transformers' silu, or gelu_pytorch_tanh. */
export type GateActivation = 'silu' | 'gelu_pytorch_tanh';
const ACT: Record<GateActivation, number> = { silu: 0, gelu_pytorch_tanh: 1 };

function workgroups(rec: Recorder, n: number): [number, number] {
  return grid(Math.ceil(n / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension);
}

/** out (n) = act(gate) · up. */
export function swigluForward(rec: Recorder, out: Buf, gate: Buf, up: Buf, n: number, act: GateActivation = 'silu'): void {
  rec.dispatch({ shader: swigluShader, entry: 'swiglu_forward', overrides: { WG, ACT: ACT[act] }, uniforms: { n }, bindings: [out, gate, up], workgroups: workgroups(rec, n) });
}

/** dgate (n), dup (n) = gradients of out = act(gate) · up; both overwritten. */
export function swigluBackward(rec: Recorder, dgate: Buf, dup: Buf, dout: Buf, gate: Buf, up: Buf, n: number, act: GateActivation = 'silu'): void {
  rec.dispatch({
    shader: swigluShader,
    entry: 'swiglu_backward',
    overrides: { WG, ACT: ACT[act] },
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

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** [act(g), act'(g)] as the shader computes them. */
function actGrad(g: number, act: GateActivation): [number, number] {
  if (act === 'gelu_pytorch_tanh') {
    const t = Math.tanh(GELU_C * (g + GELU_A * g * g * g));
    return [0.5 * g * (1 + t), 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * g * g)];
  }
  const s = sigmoid(g);
  return [g * s, s * (1 + g * (1 - s))];
}

export function swigluForwardCpu(out: Arr, gate: Arr, up: Arr, n: number, act: GateActivation = 'silu'): void {
  for (let i = 0; i < n; i++) out[i] = actGrad(gate[i], act)[0] * up[i];
}

export function swigluBackwardCpu(dgate: Arr, dup: Arr, dout: Arr, gate: Arr, up: Arr, n: number, act: GateActivation = 'silu'): void {
  for (let i = 0; i < n; i++) {
    const [a, da] = actGrad(gate[i], act);
    dgate[i] = dout[i] * up[i] * da;
    dup[i] = dout[i] * a;
  }
}
