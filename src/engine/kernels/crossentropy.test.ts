import { describe, expect, it } from 'vitest';
import { crossEntropyChecks } from './crossentropy.check';
import { crossEntropyForwardBackwardCpu, crossEntropyForwardCpu, lossSumCpu } from './crossentropy';
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

  it('dlogits is the gradient of sum(weight[row] * loss[row]) (finite differences)', () => {
    const [N, V] = [4, 7];
    const logits = randn(N * V, 3, 2);
    const targets = Int32Array.from([2, -100, 6, 0]);
    const scale = Float32Array.from([1 / 3, 1 / 3, -0.5, 0.25]);
    const loss = (x: Float32Array): number => {
      const l = new Float32Array(N);
      crossEntropyForwardCpu(l, x, targets, N, V);
      const out = new Float32Array(1);
      lossSumCpu(out, l, scale, N);
      return out[0];
    };
    const grad = logits.slice();
    const losses = new Float32Array(N);
    crossEntropyForwardBackwardCpu(losses, grad, targets, scale, N, V);
    const h = 1e-2;
    for (let i = 0; i < N * V; i++) {
      const xp = logits.slice();
      const xm = logits.slice();
      xp[i] += h;
      xm[i] -= h;
      const fd = (loss(xp) - loss(xm)) / (2 * h);
      expect(Math.abs(fd - grad[i]), `element ${i}`).toBeLessThan(1e-4);
    }
    // Each counted row of dlogits sums to 0; ignored rows are exactly 0.
    for (let r = 0; r < N; r++) {
      let s = 0;
      for (let i = 0; i < V; i++) s += grad[r * V + i];
      expect(Math.abs(s)).toBeLessThan(1e-6);
    }
    for (let i = 0; i < V; i++) expect(grad[V + i]).toBe(0);
  });
});
