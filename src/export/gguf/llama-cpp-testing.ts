// Test helpers shared by the GGUF tests that run llama.cpp (node-llama-cpp, CPU).
import { open } from 'node:fs/promises';
import type { Llama, Token } from 'node-llama-cpp';
import type { GgufExport } from './export';

export function softmax(x: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
  const out = new Float64Array(x.length);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += out[i] = Math.exp(x[i] - m);
  for (let i = 0; i < x.length; i++) out[i] /= s;
  return out;
}

/** Writes an export's GGUF file (its first file) to `path`. */
export async function writeFirstFile(plan: GgufExport, path: string): Promise<string> {
  const fh = await open(path, 'w');
  try {
    await plan.files[0].write({ write: async (b) => void (await fh.write(b)) });
  } finally {
    await fh.close();
  }
  return path;
}

/** llama.cpp's next-token probabilities at every position of each row (one context, one thread). */
export async function llamaCppProbs(llama: Llama, modelPath: string, rows: number[][], vocab: number, lora?: string): Promise<Float64Array[][]> {
  const model = await llama.loadModel({ modelPath });
  // One thread: llama.cpp's threads spin while waiting, which on a busy 2-core CI machine costs seconds per batch.
  const ctx = await model.createContext({ contextSize: 64, batchSize: 64, sequences: 1, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
  try {
    const seq = ctx.getSequence();
    const out: Float64Array[][] = [];
    for (const ids of rows) {
      await seq.clearHistory();
      const res = await seq.controlledEvaluate(ids.map((t) => [t as Token, { generateNext: { logits: true } }]));
      out.push(
        ids.map((_, t) => {
          const lg = res[t]?.next.logits;
          if (!lg) throw new Error(`no logits at position ${t}`);
          if (lg.size !== vocab) throw new Error(`${lg.size} logits at position ${t}, expected ${vocab}`);
          const v = new Float64Array(vocab);
          for (const [k, x] of lg) v[k] = x;
          return softmax(v);
        }),
      );
    }
    return out;
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

/** The largest absolute difference between two sets of probability rows. */
export function maxDiff(a: Float64Array[][], b: Float64Array[][]): number {
  let m = 0;
  a.forEach((row, r) => row.forEach((p, t) => p.forEach((x, i) => (m = Math.max(m, Math.abs(x - b[r][t][i]))))));
  return m;
}

/**
 * Mean cross-entropy of the labelled next tokens under probabilities `p` (row b, position t predicts
 * labels[b][t + 1]; -100 and positions past the labels are skipped).
 */
export function nextTokenLoss(p: Float64Array[][], labels: number[][]): number {
  let s = 0;
  let n = 0;
  p.forEach((row, b) =>
    row.forEach((probs, t) => {
      const next = labels[b][t + 1];
      if (next === undefined || next === -100) return;
      s -= Math.log(probs[next]);
      n++;
    }),
  );
  return s / n;
}

/**
 * The engine's own bounds on a quantized base (reference.test.ts): loss within 2e-3 relative at
 * int8, 4e-2 at int4. A GGUF's F16 is held to the int8 bound, Q8_0 to int8's, Q4_0 to int4's.
 */
export const QUANT_LOSS_BOUNDS: Record<'f16' | 'q8_0' | 'q4_0', number> = { f16: 2e-3, q8_0: 2e-3, q4_0: 4e-2 };
