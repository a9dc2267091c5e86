// Every loss gives the same value and gradient on wasm (the CI and CPU-training backend) as on
// cpu. Regression: tokenCrossEntropy once built its one-hot with oneHot(…, 'float32'), whose wasm
// kernel writes int32 data, so on wasm the loss came out as ~1e-45.
import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '@vqlm/runtime';
import { maskedMse, monotonicityLoss, plccLoss, rankingHinge, tokenCrossEntropy } from './index.js';

type Case = { name: string; run: (x: tf.Tensor) => tf.Scalar; shape: number[] };

const cases: Case[] = [
  {
    name: 'tokenCrossEntropy',
    shape: [2, 3, 5],
    run: (x) => tokenCrossEntropy(x, tf.tensor2d([[1, 4, -100], [0, 2, 3]], undefined, 'int32')),
  },
  { name: 'maskedMse', shape: [4], run: (x) => maskedMse(x, tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([1, 0, 1, 1])) },
  { name: 'rankingHinge', shape: [4], run: (x) => rankingHinge(tf.tensor1d([4, 1, 2, 5]), tf.tensor1d([1, 3, 2, 2]), x, tf.tensor1d([0.1, 0.2, 0.3, 0.4])) },
  { name: 'plccLoss', shape: [4], run: (x) => plccLoss(x, tf.tensor1d([1, 2, 3.5, 4])) },
  { name: 'monotonicityLoss', shape: [4], run: (x) => monotonicityLoss(x, tf.tensor1d([1, 2, 3.5, 4])) },
];

function inputOf(shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: size }, (_, i) => Math.sin(i * 1.7) * 2), shape, 'float32');
}

async function evaluate(c: Case): Promise<{ value: number; grad: number[] }> {
  const x = inputOf(c.shape);
  const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => c.run(t))(x);
  const out = { value: (await value.data())[0], grad: Array.from(await grad.data()) };
  tf.dispose([x, value, grad]);
  return out;
}

describe('losses on wasm and cpu', () => {
  it('agree in value and gradient within 1e-5', async () => {
    await initBackend({ backend: 'cpu', log: () => undefined });
    const reference: { value: number; grad: number[] }[] = [];
    for (const c of cases) reference.push(await evaluate(c));
    await initBackend({ backend: 'wasm', log: () => undefined });
    expect(tf.getBackend()).toBe('wasm');
    for (const [i, c] of cases.entries()) {
      const got = await evaluate(c);
      expect(got.value, c.name).toBeCloseTo(reference[i].value, 5);
      expect(Math.abs(got.value), c.name).toBeGreaterThan(1e-3);
      got.grad.forEach((g, j) => expect(g, `${c.name} grad[${j}]`).toBeCloseTo(reference[i].grad[j], 5));
    }
  });
});
