// createNodeGpu on SwiftShader defers dawn.node's event polling (anonymous native setImmediate
// callbacks) by 1 ms; every other setImmediate is Node's own, and the GPU still answers.
import { describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { testGpu } from '../engine/kernels/testing';

describe('node GPU', () => {
  it('only anonymous native setImmediate callbacks become 1 ms timers; a read-back completes', async () => {
    const gpu = await testGpu();
    expect(gpu.adapterName).toMatch(/swiftshader/i); // the tests' adapter, where the throttle applies
    const handle = (cb: () => void): string => {
      const h = setImmediate(cb) as unknown as { constructor: { name: string } };
      return h.constructor.name;
    };
    // Function.prototype is an anonymous native function, as dawn.node's callback is.
    expect(handle(Function.prototype as () => void)).toBe('Timeout');
    expect(handle(() => {})).toBe('Immediate');
    expect(handle(function named() {})).toBe('Immediate');
    expect(handle((() => {}).bind(null))).toBe('Immediate'); // bound: named "bound "
    expect(await promisify(setImmediate)('value')).toBe('value');
    const b = gpu.upload(Float32Array.from([1, 2, 3, 4]), 'x');
    expect(await gpu.readF32(b)).toEqual(Float32Array.from([1, 2, 3, 4]));
    gpu.destroyBuffer(b);
  });
});
