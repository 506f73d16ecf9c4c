// A block of columns of a row-major (N, W) matrix copied out (split) or in (join)
// (shaders/columns.wgsl): the slices of a fused projection's output (model/layer.ts). GPU
// dispatches and CPU twins.
import code from '../../../shaders/columns.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const columnsShader = { name: 'columns', code };
const WG = 256;

function dispatchColumns(rec: Recorder, entry: string, fused: Buf, part: Buf, N: number, W: number, w: number, offset: number): void {
  if (offset + w > W) throw new Error(`columns: slice ${offset}..${offset + w} is outside a row of ${W}`);
  rec.dispatch({
    shader: columnsShader,
    entry,
    overrides: { WG },
    uniforms: { N, W, w, offset },
    bindings: [fused, part],
    workgroups: grid(Math.ceil((N * w) / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** part (N, w) = fused (N, W)[:, offset .. offset + w]. */
export function columnsSplit(rec: Recorder, part: Buf, fused: Buf, N: number, W: number, w: number, offset: number): void {
  dispatchColumns(rec, 'columns_split', fused, part, N, W, w, offset);
}

/** fused (N, W)[:, offset .. offset + w] = part (N, w); the other columns are left as they are. */
export function columnsJoin(rec: Recorder, fused: Buf, part: Buf, N: number, W: number, w: number, offset: number): void {
  dispatchColumns(rec, 'columns_join', fused, part, N, W, w, offset);
}

export function columnsSplitCpu(part: Float32Array, fused: Float32Array, N: number, W: number, w: number, offset: number): void {
  for (let n = 0; n < N; n++) for (let j = 0; j < w; j++) part[n * w + j] = fused[n * W + offset + j];
}

export function columnsJoinCpu(fused: Float32Array, part: Float32Array, N: number, W: number, w: number, offset: number): void {
  for (let n = 0; n < N; n++) for (let j = 0; j < w; j++) fused[n * W + offset + j] = part[n * w + j];
}
