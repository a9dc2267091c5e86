// matMul takes one of two routes on wasm: a batch of large products is split into 2-D
// products (XNNPACK's fast path), a batch of many small ones stays batched. Both routes must give
// tfjs cpu's values and gradients. Regression: splitting every batch made the pixel tower of
// vqlm-tiny (512 patches × 4 heads of 16-token attention) spend 9 of its 10 s per step in Unpack.
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { matMul, splitOnWasm } from './matmul.js';
import { tf } from './tf.js';

async function product(shapeA: number[], shapeB: number[]): Promise<{ value: number[]; gradA: number[]; gradB: number[] }> {
  const fill = (shape: number[], phase: number): tf.Tensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + phase)), shape, 'float32');
  };
  const a = fill(shapeA, 0);
  const b = fill(shapeB, 1);
  const y = matMul(a, b);
  const r = fill(y.shape, 2);
  const grads = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(matMul(x, z), r)))([a, b]);
  const out = { value: Array.from(await y.data()), gradA: Array.from(await grads[0].data()), gradB: Array.from(await grads[1].data()) };
  tf.dispose([a, b, y, r, ...grads]);
  return out;
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst).toBeLessThan(1e-4);
}

describe('matMul on wasm', () => {
  afterAll(async () => {
    await initBackend({ backend: 'cpu', log: () => undefined });
  });

  it('splits a few large products and keeps many small ones batched', () => {
    expect(splitOnWasm(16, 1024 * 64 * 1024)).toBe(true);
    expect(splitOnWasm(8, 240 * 12 * 240)).toBe(true);
    expect(splitOnWasm(128, 1024 * 64 * 1024)).toBe(true);
    expect(splitOnWasm(2048, 16 * 12 * 16)).toBe(false);
    expect(splitOnWasm(256, 64 * 16 * 64)).toBe(false);
    expect(splitOnWasm(32, 240 * 240 * 12)).toBe(false);
  });

  it.each([
    { route: 'split', a: [2, 3, 64, 48], b: [2, 3, 48, 64] },
    { route: 'split, a batch of one', a: [1, 1, 256, 32], b: [1, 1, 32, 256] },
    { route: 'batched', a: [40, 16, 12], b: [40, 12, 16] },
    { route: '2-D', a: [20, 30], b: [30, 10] },
  ])('gives cpu values and gradients on the $route route', async ({ a, b }) => {
    await initBackend({ backend: 'cpu', log: () => undefined });
    const reference = await product(a, b);
    await initBackend({ backend: 'wasm', log: () => undefined });
    const onWasm = await product(a, b);
    expectClose(onWasm.value, reference.value);
    expectClose(onWasm.gradA, reference.gradA);
    expectClose(onWasm.gradB, reference.gradB);
  });
});
