// Residual add y += x (shaders/add.wgsl): GPU dispatch and its CPU twin.
import code from '../../../shaders/add.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const addShader = { name: 'add', code };
const WG = 256;

/** y (n) += x (n). */
export function addInplace(rec: Recorder, y: Buf, x: Buf, n: number): void {
  rec.dispatch({
    shader: addShader,
    entry: 'add_inplace',
    uniforms: [n],
    bindings: [y, x],
    workgroups: grid(Math.ceil(n / WG)),
  });
}

export function addInplaceCpu(y: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] += x[i];
}
