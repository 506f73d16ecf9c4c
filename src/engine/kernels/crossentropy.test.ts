import { describe, expect, it } from 'vitest';
import { crossEntropyChecks } from './crossentropy.check';
import { crossEntropyForwardBackwardCpu, crossEntropyForwardCpu, lossSumCpu, softcapLogitsCpu } from './crossentropy';
import { itChecks, randn } from './testing';

describe('crossentropy kernels: GPU vs CPU', () => itChecks(crossEntropyChecks));

describe('crossentropy CPU twins', () => {
  it('loss of a uniform row is log V; ignored rows are 0', () => {
    const V = 10;
    const logits = new Float32Array(2 * V).fill(3);
    const losses = new Float32Array(2);
    crossEntropyForwardCpu(losses, logits, Int32Array.from([4, -100]), 2, V);
    expect(losses[0]).toBeCloseTo(Math.log(V), 6);
    expect(losses[1]).toBe(0);
  });

  // cap > 0: final_logit_softcapping, the loss of cap·tanh(z/cap) against the raw logits z (std 3:
  // several beyond the cap, where the tanh bends). Per-row weights as a preference loss writes them.
  it.each([0, 1.5])('dlogits is the gradient of sum(weight[row] * loss[row]) (finite differences), softcap %s', (cap) => {
    const [N, V] = [4, 7];
    const logits = randn(N * V, 3, cap ? 3 : 2);
    const targets = Int32Array.from([2, -100, 6, 0]);
    const scale = Float32Array.from([1 / 3, 1 / 3, -0.5, 0.25]);
    const capped = (x: Float32Array): Float32Array => {
      const c = x.slice();
      if (cap) softcapLogitsCpu(c, N * V, cap);
      return c;
    };
    const loss = (x: Float32Array): number => {
      const l = new Float32Array(N);
      crossEntropyForwardCpu(l, capped(x), targets, N, V);
      const out = new Float32Array(1);
      lossSumCpu(out, l, scale, N);
      return out[0];
    };
    const grad = capped(logits);
    if (cap) expect(Math.max(...Array.from(grad, Math.abs))).toBeLessThan(cap);
    const losses = new Float32Array(N);
    crossEntropyForwardBackwardCpu(losses, grad, targets, scale, N, V, cap);
    const h = 1e-2;
    for (let i = 0; i < N * V; i++) {
      const xp = logits.slice();
      const xm = logits.slice();
      xp[i] += h;
      xm[i] -= h;
      const fd = (loss(xp) - loss(xm)) / (2 * h);
      expect(Math.abs(fd - grad[i]), `element ${i}`).toBeLessThan(1e-4);
    }
    // Each counted row of dlogits sums to 0 (without a cap, whose derivative reweights it); ignored rows are exactly 0.
    for (let r = 0; r < N && !cap; r++) {
      let s = 0;
      for (let i = 0; i < V; i++) s += grad[r * V + i];
      expect(Math.abs(s)).toBeLessThan(1e-6);
    }
    for (let i = 0; i < V; i++) expect(grad[V + i]).toBe(0);
  });
});
