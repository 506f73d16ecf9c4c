// Token embedding lookup (shaders/embedding.wgsl): out (N,C) = table[ids]. The table is frozen, so
// there is no backward. An id past the table's end gives a zero row.
import code from '../../../shaders/embedding.wgsl?raw';
import { grid, type Buf, type Recorder } from '../../gpu/gpu';

export const embeddingShader = { name: 'embedding', code };
const WG = 256;

/** out (N,C) = table (V,C) [ids (N, u32)]. */
export function embeddingForward(rec: Recorder, out: Buf, ids: Buf, table: Buf, N: number, C: number): void {
  rec.dispatch({
    shader: embeddingShader,
    entry: 'embedding_forward',
    overrides: { WG },
    uniforms: { N, C },
    bindings: [out, ids, table],
    workgroups: grid(Math.ceil((N * C) / WG), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
  });
}

export function embeddingForwardCpu(out: Float32Array, ids: Uint32Array, table: Float32Array, N: number, C: number): void {
  const V = Math.floor(table.length / C);
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    for (let c = 0; c < C; c++) out[n * C + c] = id < V ? table[id * C + c] : 0;
  }
}
