import { describe, expect, it } from 'vitest';
import type { RopeConfig } from '../model/spec';
import { longrope, ropeChecks } from './rope.check';
import { longropeIsLong, ropeBackwardCpu, ropeForwardCpu, ropeInvFreq, RopeTablesGpu, ropeTables } from './rope';
import { itChecks, randn, testGpu } from './testing';
import { rowPositions, segmentPositions } from './positions';
import { parseModelConfig } from '../model/config';

describe('rope kernels: GPU vs CPU', () => itChecks(ropeChecks));

describe('rope tables', () => {
  // Reference values computed independently (Python, float64) from transformers' _compute_yarn_parameters.
  it('yarn: Qwen-style (theta 1e6, factor from 131072 / 32768 = 4, D=64) and one with betas, mscales, no truncation', () => {
    const rope = parseModelConfig({
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 256,
      intermediate_size: 512,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 100,
      rms_norm_eps: 1e-6,
      max_position_embeddings: 131072,
      rope_theta: 1e6,
      rope_scaling: { rope_type: 'yarn', factor: 8, original_max_position_embeddings: 32768 },
    }).rope;
    expect(rope).toMatchObject({ type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 32768, yarn: { betaFast: 32, betaSlow: 1, truncate: true } });
    expect(rope.attentionFactor! / 1.138629436111989 - 1).toBeLessThan(1e-15);
    const inv = ropeInvFreq(rope, 64);
    const want: Array<[number, number]> = [
      [0, 1.0],
      [5, 0.1154781984689458],
      [10, 0.01333521432163324],
      [15, 0.0010266176840396614],
      [20, 4.445698525097307e-5],
      [25, 5.133812566142866e-6],
      [31, 3.84981631514873e-7],
    ];
    for (const [i, w] of want) expect(Math.abs(inv[i] / w - 1), `inv_freq[${i}]`).toBeLessThan(1e-12);
    const { cos, sin } = ropeTables(rope, 30001, 64);
    for (const [t, i, c, s] of [
      [1, 0, 0.6152041098606474, 0.9581236329364153],
      [100, 12, 0.990671860103332, 0.5612898167436414],
      [5000, 20, 1.1106148976593917, 0.25102099887803214],
      [30000, 31, 1.1385534961962924, 0.013150250184131271],
    ]) {
      expect(cos[t * 32 + i]).toBeCloseTo(c, 6);
      expect(sin[t * 32 + i]).toBeCloseTo(s, 6);
    }
    const other: RopeConfig = { theta: 10000, type: 'yarn', factor: 4, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 512, attentionFactor: 1, yarn: { betaFast: 8, betaSlow: 2, truncate: false } };
    const want2 = [1.0, 0.31622776601683794, 0.1, 0.012241315901815122, 0.0025, 0.0007905694150420947, 0.00025, 7.905694150420948e-5];
    ropeInvFreq(other, 16).forEach((v, i) => expect(Math.abs(v / want2[i] - 1), `inv_freq[${i}]`).toBeLessThan(1e-12));
  });

  it('dynamic NTK within max_position_embeddings: the default tables; beyond it: refused', () => {
    const base: RopeConfig = { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 64 };
    const dynamic: RopeConfig = { ...base, type: 'dynamic', factor: 4 };
    expect(ropeTables(dynamic, 64, 16)).toEqual(ropeTables(base, 64, 16));
    expect(() => ropeTables(dynamic, 65, 16)).toThrow(/sequences of 65 tokens exceed max_position_embeddings \(64\); dynamic RoPE scaling beyond it is not supported/);
    expect(() => ropeTables(base, 65, 16)).not.toThrow();
  });

  // Reference values computed independently (Python, float64) from transformers' formulas.
  it('llama3 (Llama 3.1: theta 500000, factor 8, low 1, high 4, original 8192), D=128', () => {
    const rope: RopeConfig = {
      theta: 500000,
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    };
    const inv = ropeInvFreq(rope, 128);
    // i=0,1,20: wavelen < 2048 (unchanged); i=30: between (smoothed); i=40..63: wavelen > 8192 (/8).
    const expectInv: Array<[number, number]> = [
      [0, 1.0],
      [1, 0.8146172338565447],
      [20, 0.016560440080994446],
      [30, 0.0013718935677611381],
      [40, 3.428102195952591e-5],
      [45, 1.2297638677963614e-5],
      [50, 4.411534674558404e-6],
      [63, 3.068925988914511e-7],
    ];
    for (const [i, want] of expectInv) expect(inv[i] / want - 1, `inv_freq[${i}]`).toBeLessThan(1e-13);
    for (const [i, want] of expectInv) expect(want / inv[i] - 1, `inv_freq[${i}]`).toBeLessThan(1e-13);
    const T = 2048;
    const { cos, sin } = ropeTables(rope, T, 128);
    const expectCS: Array<[number, number, number, number]> = [
      [1, 0, 0.5403023058681398, 0.8414709848078965],
      [5, 20, 0.9965738560039169, 0.08270761470072875],
      [7, 40, 0.9999999712078828, 0.00023996715141362724],
      [100, 45, 0.99999924384051, 0.0012297635578304726],
      [2047, 50, 0.9999592261113496, 0.009030288743490055],
      [3, 63, 0.9999999999995762, 9.206777966742233e-7],
      [1000, 30, 0.1975938422192489, 0.9802839759564749],
    ];
    for (const [t, i, c, s] of expectCS) {
      expect(cos[t * 64 + i]).toBe(Math.fround(c));
      expect(sin[t * 64 + i]).toBe(Math.fround(s));
    }
    expect(cos[0]).toBe(1);
    expect(sin[63]).toBe(0);
  });

  it('linear (theta 10000, factor 4), D=64', () => {
    const rope: RopeConfig = { theta: 10000, type: 'linear', factor: 4, lowFreqFactor: 0, highFreqFactor: 0, originalMaxPositionEmbeddings: 0 };
    const { cos, sin } = ropeTables(rope, 512, 64);
    const expectCS: Array<[number, number, number, number]> = [
      [1, 0, 0.9689124217106447, 0.24740395925452294],
      [9, 3, 0.582644844891624, 0.8127268819973997],
      [30, 17, 0.9984188318807868, 0.05621241985366784],
      [511, 31, 0.9998548953537907, 0.01703491229975251],
    ];
    for (const [t, i, c, s] of expectCS) {
      expect(cos[t * 32 + i]).toBe(Math.fround(c));
      expect(sin[t * 32 + i]).toBe(Math.fround(s));
    }
  });

  it('default (theta 1e6), D=16', () => {
    const rope: RopeConfig = { theta: 1e6, type: 'default', factor: 1, lowFreqFactor: 0, highFreqFactor: 0, originalMaxPositionEmbeddings: 0 };
    const { cos, sin } = ropeTables(rope, 13, 16);
    expect(cos.length).toBe(13 * 8);
    expect(cos[3 * 8 + 1]).toBe(Math.fround(0.8610406494408598));
    expect(sin[3 * 8 + 1]).toBe(Math.fround(0.5085361344196323));
    expect(cos[12 * 8 + 7]).toBe(Math.fround(0.9999999977231601));
    expect(sin[12 * 8 + 7]).toBe(Math.fround(6.748095897162745e-5));
  });
});

describe('longrope tables (Phi-3)', () => {
  // Written out from transformers' _compute_longrope_parameters: inv_freq[i] = 1 / (ext[i] · base^(2i/dim)),
  // dim the rotated dims; cos/sin × attention_factor; ext = long_factor iff seq_len > original_max_position_embeddings.
  const rope = parseModelConfig({
    architectures: ['Phi3ForCausalLM'],
    model_type: 'phi3',
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 100,
    max_position_embeddings: 64,
    original_max_position_embeddings: 16,
    partial_rotary_factor: 0.75,
    rope_theta: 10000,
    rope_scaling: { type: 'longrope', short_factor: [1, 1.3, 1.9, 2.6, 4.1, 6], long_factor: [1, 2.2, 4.5, 9, 17, 31] },
  }).rope;

  it('parses the factors and the attention factor sqrt(1 + ln(64/16) / ln 16)', () => {
    expect(rope.type).toBe('longrope');
    expect(rope.originalMaxPositionEmbeddings).toBe(16);
    expect(rope.attentionFactor).toBeCloseTo(Math.sqrt(1.5), 14);
  });

  it('short factors for sequences up to original_max_position_embeddings, long ones beyond', () => {
    expect(longropeIsLong(rope, 16)).toBe(false);
    expect(longropeIsLong(rope, 17)).toBe(true);
    for (const [seqLen, ext] of [
      [16, [1, 1.3, 1.9, 2.6, 4.1, 6]],
      [20, [1, 2.2, 4.5, 9, 17, 31]],
    ] as const) {
      const inv = ropeInvFreq(rope, 12, seqLen);
      ext.forEach((e, i) => expect(inv[i] / (1 / (e * Math.pow(10000, (2 * i) / 12))) - 1, `inv_freq[${i}] at ${seqLen}`).toBeLessThan(1e-14));
      const { cos, sin } = ropeTables(rope, 20, 12, seqLen);
      for (const [t, i] of [[0, 0], [5, 2], [19, 5], [13, 3]]) {
        const a = t / (ext[i] * Math.pow(10000, (2 * i) / 12));
        expect(cos[t * 6 + i]).toBeCloseTo(Math.cos(a) * Math.sqrt(1.5), 6);
        expect(sin[t * 6 + i]).toBeCloseTo(Math.sin(a) * Math.sqrt(1.5), 6);
      }
    }
    // Tables by default are those of one sequence of T positions.
    expect(ropeTables(rope, 20, 12)).toEqual(ropeTables(rope, 20, 12, 20));
    expect(ropeTables(rope, 16, 12)).toEqual(ropeTables(rope, 16, 12, 1));
  });
});

describe('RopeTablesGpu', () => {
  it('LongRoPE: select(seqLen) switches the GPU tables between the short and the long set, back and forth', async () => {
    const gpu = await testGpu();
    const rope = longrope; // original_max_position_embeddings 16, 12 rotated dims
    const t = new RopeTablesGpu(gpu, rope, 20, 12, 'test.rope');
    const read = async (): Promise<Float32Array> => gpu.readF32(t.sin, 20 * 6);
    try {
      expect(await read()).toEqual(ropeTables(rope, 20, 12, 16).sin);
      for (const seqLen of [17, 20, 3, 16, 18]) {
        t.select(seqLen);
        expect(await read(), `seqLen ${seqLen}`).toEqual(ropeTables(rope, 20, 12, seqLen).sin);
      }
      expect(ropeTables(rope, 20, 12, 17).sin).not.toEqual(ropeTables(rope, 20, 12, 16).sin);
    } finally {
      gpu.destroyBuffer(t.cos);
      gpu.destroyBuffer(t.sin);
    }
  });
});

describe('rope CPU twin', () => {
  it('partial rotary: the first R dims rotate as a head of R (rotate_half within them), the rest pass through', () => {
    const [D, R] = [8, 4];
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const cos = Float32Array.from([0.5, -1]);
    const sin = Float32Array.from([0.25, 0.75]);
    const out = x.slice();
    ropeForwardCpu({ x: out, cos, sin, positions: Int32Array.of(0) }, 1, 1, 1, D, R);
    // transformers: cat(q_rot·cat(cos,cos) + rotate_half(q_rot)·cat(sin,sin), q_pass), q_rot = x[:4].
    expect(Array.from(out)).toEqual([1 * 0.5 - 3 * 0.25, 2 * -1 - 4 * 0.75, 3 * 0.5 + 1 * 0.25, 4 * -1 + 2 * 0.75, 5, 6, 7, 8].map(Math.fround));
    const back = out.slice();
    ropeBackwardCpu({ x: back, cos: Float32Array.from([0.6, 0]), sin: Float32Array.from([0.8, 1]), positions: Int32Array.of(0) }, 1, 1, 1, D, R);
    expect(Array.from(back.subarray(4))).toEqual([5, 6, 7, 8]);
  });

  it('partial rotary backward is the adjoint of its forward (the forward is linear: its gradient), the unrotated dims pass through', () => {
    const [B, T, H, D, R] = [2, 4, 3, 10, 6];
    const n = B * T * H * D;
    const { cos, sin } = ropeTables({ theta: 100, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 0 }, T, R);
    const positions = rowPositions(B, T);
    const x = randn(n, 4);
    const w = randn(n, 5);
    const y = x.slice();
    ropeForwardCpu({ x: y, cos, sin, positions }, B, T, H, D, R);
    const g = w.slice();
    ropeBackwardCpu({ x: g, cos, sin, positions }, B, T, H, D, R);
    // <rope(x), w> = <x, ropeᵀ(w)> in float64 over the f32 values.
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < n; i++) {
      lhs += y[i] * w[i];
      rhs += x[i] * g[i];
    }
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4);
    for (let row = 0; row < B * T * H; row++) {
      for (let d = R; d < D; d++) {
        expect(y[row * D + d]).toBe(x[row * D + d]);
        expect(g[row * D + d]).toBe(w[row * D + d]);
      }
    }
  });

  it('matches rotate_half written out for one row', () => {
    const D = 8;
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const cos = Float32Array.from([0.5, 0.25, -1, 0]);
    const sin = Float32Array.from([0.1, 0.2, 0.3, 1]);
    const out = x.slice();
    ropeForwardCpu({ x: out, cos, sin, positions: Int32Array.of(0) }, 1, 1, 1, D);
    // q*cat(cos,cos) + cat(-x2, x1)*cat(sin,sin)
    const c = [...cos, ...cos];
    const s = [...sin, ...sin];
    const rot = [-5, -6, -7, -8, 1, 2, 3, 4];
    for (let d = 0; d < D; d++) expect(out[d]).toBeCloseTo(x[d] * c[d] + rot[d] * s[d], 6);
  });

  it('backward is the gradient of forward (finite differences)', () => {
    const [B, T, H, D] = [2, 5, 2, 6];
    const n = B * T * H * D;
    const rope: RopeConfig = { theta: 100, type: 'llama3', factor: 4, lowFreqFactor: 1, highFreqFactor: 2, originalMaxPositionEmbeddings: 8 };
    const { cos, sin } = ropeTables(rope, T, D);
    const x = randn(n, 1);
    const w = randn(n, 2);
    const positions = rowPositions(B, T);
    const loss = (xx: Float32Array): number => {
      const y = xx.slice();
      ropeForwardCpu({ x: y, cos, sin, positions }, B, T, H, D);
      let s = 0;
      for (let i = 0; i < n; i++) s += y[i] * w[i];
      return s;
    };
    const g = w.slice();
    ropeBackwardCpu({ x: g, cos, sin, positions }, B, T, H, D);
    const h = 1e-2;
    for (let i = 0; i < n; i++) {
      const xp = x.slice();
      const xm = x.slice();
      xp[i] += h;
      xm[i] -= h;
      const fd = (loss(xp) - loss(xm)) / (2 * h);
      expect(Math.abs(fd - g[i]), `element ${i}`).toBeLessThan(2e-4);
    }
  });

  it('a packed row rotates each example as if it were alone in its own row (positions restart)', () => {
    const [T, H, D] = [12, 2, 8];
    const rope: RopeConfig = { theta: 10000, type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 0 };
    const { cos, sin } = ropeTables(rope, T, D);
    const lengths = [5, 1, 4];
    const x = randn(T * H * D, 3);
    const packed = x.slice();
    ropeForwardCpu({ x: packed, cos, sin, positions: segmentPositions(T, [lengths]) }, 1, T, H, D);
    let start = 0;
    for (const len of [...lengths, T - 10]) {
      const alone = x.slice(start * H * D, (start + len) * H * D);
      ropeForwardCpu({ x: alone, cos, sin, positions: rowPositions(1, len) }, 1, len, H, D);
      expect(Array.from(packed.subarray(start * H * D, (start + len) * H * D))).toEqual(Array.from(alone));
      start += len;
    }
    // Not the row's own positions: the second example's first token is not rotated by angle 5.
    const plain = x.slice();
    ropeForwardCpu({ x: plain, cos, sin, positions: rowPositions(1, T) }, 1, T, H, D);
    expect(plain[5 * H * D]).not.toBe(packed[5 * H * D]);
  });
});
