// How a kernel's WGSL is put together from shared pieces of shaders/: composeShader puts the
// pieces' text in front of the kernel's own at pipeline creation, and names the composition in
// the Shader (Shader.parts), which the Gpu's pipeline and module caches key on.
//
// Kernels that reduce across a workgroup (row norms, softmax, sums) call workgroup_sum and
// workgroup_max_sum instead of writing their own tree. The functions come in two forms that a
// kernel's WGSL is composed with: a tree in workgroup memory (every device) and subgroup
// operations (GPUs with wide subgroups); the Gpu compiles the one it chose (Gpu.subgroups).
import tree from '../../../shaders/reduce.wgsl?raw';
import subgroups from '../../../shaders/reduce_subgroups.wgsl?raw';
import gemmTile from '../../../shaders/gemm_tile.wgsl?raw';
import quantBlock from '../../../shaders/quant_block.wgsl?raw';
import gemmParams from '../../../shaders/gemm_params.wgsl?raw';
import ropePair from '../../../shaders/rope_pair.wgsl?raw';
import type { Shader } from '../../gpu/gpu';

/** A WGSL file of shaders/ that kernels include; subgroupCode: its form with subgroup operations. */
export interface WgslPiece {
  name: string;
  code: string;
  subgroupCode?: string;
}

/** shaders/reduce.wgsl (or reduce_subgroups.wgsl): Lane and the workgroup_* functions. */
export const REDUCE_PIECE: WgslPiece = { name: 'reduce', code: tree, subgroupCode: subgroups };
/** shaders/gemm_tile.wgsl: the 64-tile GEMM's staging, FMA block and store (lora.wgsl, matmul.wgsl). */
export const GEMM_TILE_PIECE: WgslPiece = { name: 'gemm_tile', code: gemmTile };
/** shaders/quant_block.wgsl: the block-quantized weight's Params, bindings and unpacking (matmul_q.wgsl, the quantized 128 tile). */
export const QUANT_BLOCK_PIECE: WgslPiece = { name: 'quant_block', code: quantBlock };
/** shaders/gemm_params.wgsl: every f32 GEMM's Params (lora.wgsl, matmul.wgsl, the f32 128 tile). */
export const GEMM_PARAMS_PIECE: WgslPiece = { name: 'gemm_params', code: gemmParams };
/** shaders/rope_pair.wgsl: the rotate_half rotation of one pair (rope.wgsl, decode.wgsl's decode_rope). */
export const ROPE_PAIR_PIECE: WgslPiece = { name: 'rope_pair', code: ropePair };

/**
 * A shader made of pieces and the kernel's own WGSL, in that order. A piece with a subgroup form
 * (REDUCE_PIECE) must come first: reduce_subgroups.wgsl starts with `enable subgroups;`, which
 * must precede every declaration.
 */
export function composeShader(name: string, code: string, pieces: readonly WgslPiece[]): Shader {
  const join = (form: (p: WgslPiece) => string): string => [...pieces.map(form), code].join('\n');
  const shader: Shader = { name, parts: pieces.map((p) => p.name), code: join((p) => p.code) };
  if (pieces.some((p) => p.subgroupCode !== undefined)) shader.subgroupCode = join((p) => p.subgroupCode ?? p.code);
  return shader;
}

/** A shader whose WGSL uses `Lane` and the workgroup_* functions of shaders/reduce.wgsl (and any further pieces). */
export function withWorkgroupReductions(name: string, code: string, pieces: readonly WgslPiece[] = []): Shader {
  return composeShader(name, code, [REDUCE_PIECE, ...pieces]);
}
