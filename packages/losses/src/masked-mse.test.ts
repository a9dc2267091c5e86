import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, gradientPair, tf } from '@vqlm/runtime';
import { useCpuBackend, variableOf } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { maskedMse } from './masked-mse.js';

beforeAll(useCpuBackend);

const t = (values: number[]): tf.Tensor1D => tf.tensor1d(values, 'float32');

describe('maskedMse', () => {
  it('averages squared errors over selected items only (Eq. 2)', () => {
    // selected: (1 − 1.5)² = 0.25 and (3 − 2)² = 1 → 1.25 / 2
    const v = tf.tidy(() => maskedMse(t([1, 2, 3, 4]), t([1.5, NaN, 2, 10]), t([1, 0, 1, 0])).dataSync()[0]);
    expect(v).toBeCloseTo(0.625, 6);
    const asBool = tf.tidy(() =>
      maskedMse(t([1, 2, 3, 4]), t([1.5, NaN, 2, 10]), tf.tensor1d([true, false, true, false], 'bool')).dataSync()[0],
    );
    expect(asBool).toBeCloseTo(0.625, 6);
  });

  it('gives 0 and a zero gradient (no NaN) when no item is an original', () => {
    const { value, grad } = tf.tidy(() => {
      const g = tf.valueAndGrad((p: tf.Tensor) => maskedMse(p, t([NaN, NaN, 3]), t([0, 0, 0])));
      const r = g(t([1, 2, 3]));
      return { value: r.value.dataSync()[0], grad: Array.from(r.grad.dataSync()) };
    });
    expect(value).toBe(0);
    expect(grad).toEqual([0, 0, 0]);
  });

  it('has no NaN gradient from NaN targets of unselected items, and matches 2·diff/count', () => {
    const grad = tf.tidy(() =>
      Array.from(tf.grad((p: tf.Tensor) => maskedMse(p, t([1.5, NaN, 2, NaN]), t([1, 0, 1, 0])))(t([1, 2, 3, 4])).dataSync()),
    );
    expectArraysClose(grad, [-0.5, 0, 1, 0]);
  });

  it('has gradients equal to finite differences', () => {
    const { analytic, numeric } = gradientPair(
      (p) => maskedMse(p, t([1.5, 0.2, 2, -1, 4]), t([1, 0, 1, 1, 0])),
      [1, 2, 3, 0.5, -2],
      [5],
    );
    expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 1e-2 });
  });

  it('leaks no tensor across forward and backward', async () => {
    await expectNoTensorLeak(() => {
      const p = variableOf([0.3, 0.1, 2], [3]);
      const target = t([1, NaN, 2]);
      const mask = t([1, 0, 1]);
      const { value, grads } = tf.variableGrads(() => maskedMse(p, target, mask), [p]);
      tf.dispose([p, target, mask, value, grads[p.name]]);
    });
  });

  it('rejects bad shapes and dtypes', () => {
    const a = t([1, 2]);
    const b = t([1, 2, 3]);
    expect(() => maskedMse(a, b, a)).toThrow(LossError);
    expect(() => maskedMse(a, b, a)).toThrow(/maskedMse: target must have shape \[2\], got \[3\]/);
    expect(() => maskedMse(a, a, b)).toThrow(/mask must have shape \[2\], got \[3\]/);
    expect(() => maskedMse(tf.zeros([2, 2]), a, a)).toThrow(/pred must have shape \[\?\], got \[2, 2\]/);
    expect(() => maskedMse(a, a, tf.tensor1d(['x', 'y']))).toThrow(/mask must have dtype bool or float32 or int32, got string/);
    tf.dispose([a, b]);
  });
});
