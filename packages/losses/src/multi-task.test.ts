import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, gradientPair, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { multiTask } from './multi-task.js';

beforeAll(useCpuBackend);

describe('multiTask', () => {
  it('sums parts with equal weights by default and reports each part', async () => {
    await expectNoTensorLeak(() => {
      const rank = tf.scalar(2);
      const mse = tf.scalar(3);
      const ce = tf.scalar(0.5);
      const result = multiTask({ rank, mse, ce });
      expect(result.total.shape).toEqual([]);
      expect(result.totalValue).toBeCloseTo(5.5, 6);
      expect(result.parts).toEqual({ rank: 2, mse: 3, ce: 0.5 });
      expect(result.weights).toEqual({ rank: 1, mse: 1, ce: 1 });
      tf.dispose([rank, mse, ce, result.total]);
    });
  });

  it('applies given weights', () => {
    const total = tf.tidy(() => multiTask({ a: tf.scalar(2), b: tf.scalar(3) }, { b: 0.5 }).total.dataSync()[0]);
    expect(total).toBeCloseTo(3.5, 6);
  });

  it('passes gradients through with the weights', () => {
    const { analytic, numeric } = gradientPair(
      (x) => multiTask({ a: tf.sum(tf.square(x)), b: tf.sum(x) }, { a: 0.25, b: 2 }).total,
      [0.5, -1, 2],
      [3],
    );
    expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 1e-2 });
    expectArraysClose(analytic, [2.25, 1.5, 3], { atol: 1e-5 });
  });

  it('rejects non-scalar parts, unknown or negative weights and no parts', () => {
    const s = tf.scalar(1);
    const v = tf.ones([2]);
    expectError(() => multiTask({ a: s, b: v }), LossError, 'E_LOSS_SHAPE', /multiTask: parts\.b must have shape \[\], got \[2\]/);
    expectError(() => multiTask({ a: s }, { c: 1 }), LossError, 'E_LOSS_ARG', /weights\.c names no part \(parts: a\)/);
    expectError(() => multiTask({ a: s }, { a: -1 }), LossError, 'E_LOSS_ARG', /weights\.a must be a finite number ≥ 0, got -1/);
    expectError(() => multiTask({}), LossError, 'E_LOSS_ARG', /at least one loss/);
    tf.dispose([s, v]);
  });
});
