// Every kernel's uniforms, packed by uniforms.ts, against the struct its shader declares. The
// struct is read from the WGSL here with a parser of this test's own (not uniforms.ts's), and the
// struct an entry point binds comes from the table below, not from the packer's own search, so a
// kernel passing a wrong name, a missing field or a shifted value fails.
import { describe, expect, it } from 'vitest';
import type { DispatchSpec, Shader } from './gpu';
import { packUniforms } from './uniforms';
import { addInplace, splitReduce } from '../engine/kernels/add';
import { attentionBackward, attentionForward } from '../engine/kernels/attention';
import { crossEntropyForward, crossEntropyForwardBackward, lossSum } from '../engine/kernels/crossentropy';
import { decodeAttention, decodeGemv, decodeKvStore, decodeRope } from '../engine/kernels/decode';
import { embeddingForward } from '../engine/kernels/embedding';
import { loraDown, loraGradA, loraGradB, loraGradH, loraGradInput, loraUp } from '../engine/kernels/lora';
import { linearBackwardInput, linearForward } from '../engine/kernels/matmul';
import { embeddingForwardQ, linearBackwardInputQ, linearForwardQ, linearGemvQ, type QuantWeightBuffers } from '../engine/kernels/matmul-q';
import { adamwStep, globalNormSquared } from '../engine/kernels/optimizer';
import { guardedAdamw } from '../engine/kernels/guard';
import { rmsnormBackward, rmsnormForward } from '../engine/kernels/rmsnorm';
import { ropeBackward, ropeForward } from '../engine/kernels/rope';
import { swigluBackward, swigluForward } from '../engine/kernels/swiglu';
import { fakeBuf, recordDispatches } from '../engine/kernels/testing';

/** Shaders with several uniform structs: the struct each entry point binds (read off the WGSL by hand). */
const STRUCT_OF: Record<string, string> = {
  'decode.decode_rope': 'RopeParams',
  'decode.decode_kv_store': 'StoreParams',
  'decode.decode_attention': 'AttnParams',
  'decode.decode_gemv': 'GemvParams',
  'decode.decode_gemv_bias': 'GemvParams',
  'optimizer.norm_partials': 'NormParams',
  'optimizer.norm_final': 'NormParams',
  'optimizer.adamw_step': 'AdamParams',
  'guard.guard_pre': 'GuardParams',
  'guard.guard_post': 'GuardParams',
};

/** [name, type] of the struct's fields, in order, from the WGSL text. */
function structFields(code: string, struct: string): Array<[string, string]> {
  const noComments = code
    .split('\n')
    .map((l) => l.replace(/\/\/.*/, ''))
    .join('\n');
  const start = noComments.search(new RegExp(`struct\\s+${struct}\\s*\\{`));
  expect(start, `struct ${struct}`).toBeGreaterThanOrEqual(0);
  const body = noComments.slice(noComments.indexOf('{', start) + 1, noComments.indexOf('}', start));
  return body
    .split(/[,\n]/)
    .map((f) => f.trim())
    .filter((f) => f.length > 0)
    .map((f) => {
      const [name, type] = f.split(':').map((x) => x.trim());
      return [name, type];
    });
}

const buf = (floats: number): GPUBuffer => fakeBuf(Math.max(4, floats));

/** One or more calls of every kernel entry point that takes uniforms. */
function everyKernel(): DispatchSpec[] {
  const b = buf(1 << 16);
  const q4: QuantWeightBuffers = { kind: 'int4', q: buf(300 * 16), scales: buf(300 * 2), rows: 300, cols: 64 };
  const q8: QuantWeightBuffers = { kind: 'int8', q: buf(600 * 16), scales: buf(600 * 2), rows: 600, cols: 64 };
  const att = { out: b, lse: b, q: b, k: b, v: b, mask: b, positions: b };
  const dropout = { p: 0.1, seed: b, site: 5 };
  return recordDispatches((rec) => {
    addInplace(rec, b, b, 100);
    splitReduce(rec, b, buf(1 << 16), 100, 3, 128, true, 0.5);
    rmsnormForward(rec, b, b, b, b, 4, 64, 1e-6);
    rmsnormBackward(rec, b, b, b, b, b, 4, 64, true);
    swigluForward(rec, b, b, b, 100);
    swigluBackward(rec, b, b, b, b, b, 100);
    embeddingForward(rec, b, b, b, 4, 64);
    ropeForward(rec, { x: b, cos: b, sin: b, positions: b }, 2, 3, 4, 8);
    ropeBackward(rec, { x: b, cos: b, sin: b, positions: b }, 2, 3, 4, 8);
    crossEntropyForwardBackward(rec, b, b, b, b, 4, 300);
    crossEntropyForward(rec, b, b, b, 4, 300);
    lossSum(rec, b, b, b, 4);
    attentionForward(rec, att, { B: 2, T: 5, Hq: 4, Hkv: 2, D: 8, scale: 0.35 });
    attentionBackward(rec, { dq: b, dk: b, dv: b, dout: b }, att, { B: 2, T: 5, Hq: 4, Hkv: 2, D: 8, scale: 0.35 });
    decodeRope(rec, b, b, b, b, 2, 4, 8, 16);
    decodeKvStore(rec, b, b, b, b, b, 2, 2, 8, 16);
    decodeAttention(rec, b, b, b, b, b, 2, 4, 2, 8, 16, { scale: 0.35 });
    decodeGemv(rec, b, b, b, null, 1, 64, 40, true);
    decodeGemv(rec, b, b, b, b, 1, 64, 40);
    globalNormSquared(rec, b, b, b, 5000);
    adamwStep(rec, b, b, b, b, b, b, 5000, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }, b, true);
    guardedAdamw(rec, { params: b, grads: b, m: b, v: b, normSq: b, stepParams: b, result: b }, 5000, 2, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }, { loss: 50, gradNorm: 1e6, param: 1e4 });
    linearForward(rec, b, b, b, null, 3, 64, 70, true);
    linearForward(rec, b, b, b, b, 3, 64, 70, false, 128);
    linearBackwardInput(rec, buf(640 * 576), buf(640 * 4096), buf(4096 * 576), 640, 576, 4096, true, 'auto', { partials: buf(1 << 24) });
    linearBackwardInput(rec, b, b, b, 130, 72, 260, false, 128);
    linearForwardQ(rec, b, b, q4, null, 3, 64, 300);
    linearForwardQ(rec, b, b, q8, b, 3, 64, 600, true, 128);
    linearGemvQ(rec, b, b, q4, b, 1, 64, 300);
    linearBackwardInputQ(rec, b, b, q8, 3, 64, 600, true, 'auto', { partials: buf(1 << 16), slices: 3 });
    linearBackwardInputQ(rec, b, b, q4, 130, 64, 300, false, 128);
    embeddingForwardQ(rec, b, b, q4, 4, 64);
    loraDown(rec, b, b, b, 4, 64, 8, dropout);
    loraUp(rec, b, b, b, 2, 64, 8, 2);
    loraUp(rec, b, b, b, 64, 64, 8, 2);
    loraGradB(rec, buf(64 * 8), b, b, 2048, 64, 8, 2, true, { partials: buf(1 << 20) });
    loraGradH(rec, b, b, b, 4, 64, 8, 2);
    loraGradA(rec, b, b, b, 4, 64, 8, dropout, false);
    loraGradInput(rec, b, b, b, 4, 64, 8, dropout);
  });
}

describe('named uniforms', () => {
  const calls = everyKernel();

  it('covers the kernels', () => {
    const entries = new Set(calls.map((d) => `${d.shader.name}.${d.entry}`));
    for (const e of ['lora.lora_grad_input', 'matmul_q.embedding', 'optimizer.adamw_step', 'decode.decode_attention', 'attention.attn_backward_dq', 'add.split_reduce']) {
      expect(entries).toContain(e);
    }
    expect(entries.size).toBeGreaterThanOrEqual(40);
  });

  it("every dispatch's packed block holds its values at its shader struct's fields", () => {
    for (const d of calls) {
      const where = `${d.shader.name}.${d.entry}`;
      expect(d.uniforms, where).toBeDefined();
      const fields = structFields(d.shader.code, STRUCT_OF[where] ?? 'Params');
      const given = d.uniforms!;
      expect(Object.keys(given).sort(), where).toEqual(fields.map(([n]) => n).filter((n) => !n.startsWith('_pad')).sort());
      const view = new DataView(packUniforms(d.shader, d.entry, given));
      expect(view.byteLength % 16, where).toBe(0);
      expect(view.byteLength, where).toBeGreaterThanOrEqual(fields.length * 4);
      fields.forEach(([name, type], i) => {
        const got = type === 'f32' ? view.getFloat32(i * 4, true) : type === 'i32' ? view.getInt32(i * 4, true) : view.getUint32(i * 4, true);
        const want = name.startsWith('_pad') ? (given[name] ?? 0) : given[name];
        expect(got, `${where}.${name}`).toBe(type === 'f32' ? Math.fround(want) : want);
      });
    }
  });

  it('refuses a missing, unknown or out-of-type field, naming it', () => {
    const shader: Shader = { name: 'toy', code: 'struct Params { n: u32, k: i32, a: f32, _pad0: u32 }\n@group(0) @binding(0) var<uniform> p: Params;\n@compute @workgroup_size(1) fn main() { let x = p.n; }' };
    expect(new Float32Array(packUniforms(shader, 'main', { n: 3, k: -2, a: 0.5 }))[2]).toBe(0.5);
    expect(() => packUniforms(shader, 'main', { n: 3, k: 0 })).toThrow(/toy\.main.*"a".*missing/);
    expect(() => packUniforms(shader, 'main', { n: 3, k: 0, a: 1, b: 2 })).toThrow(/no field "b"/);
    expect(() => packUniforms(shader, 'main', { n: -1, k: 0, a: 1 })).toThrow(/"n" \(u32\) cannot hold -1/);
    expect(() => packUniforms(shader, 'main', { n: 1.5, k: 0, a: 1 })).toThrow(/"n" \(u32\)/);
    expect(() => packUniforms(shader, 'main', { n: 1, k: 2 ** 31, a: 1 })).toThrow(/"k" \(i32\)/);
    expect(() => packUniforms(shader, 'nope', { n: 1, k: 0, a: 1 })).toThrow(/no entry point "nope"/);
  });

  it('finds the struct an entry point reaches through the functions it calls', () => {
    const code = [
      'struct A { x: u32 }',
      'struct B { y: f32, z: u32 }',
      '@group(0) @binding(0) var<uniform> ua: A;',
      '@group(0) @binding(0) var<uniform> ub: B;',
      'fn helper() -> f32 { return ub.y; }',
      '@compute @workgroup_size(1) fn first() { let v = ua.x; }',
      '@compute @workgroup_size(1) fn second() { let v = helper(); }',
    ].join('\n');
    const shader: Shader = { name: 'two', code };
    expect(new Uint32Array(packUniforms(shader, 'first', { x: 7 }))[0]).toBe(7);
    expect(new Uint32Array(packUniforms(shader, 'second', { y: 1, z: 9 }))[1]).toBe(9);
    expect(() => packUniforms(shader, 'second', { x: 7 })).toThrow(/no field "x"/);
  });
});
