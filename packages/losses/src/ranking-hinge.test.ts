import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, gradientPair, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend, variableOf } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { rankingHinge } from './ranking-hinge.js';

beforeAll(useCpuBackend);

const t = (values: number[]): tf.Tensor1D => tf.tensor1d(values, 'float32');

describe('rankingHinge', () => {
  it('matches a hand-computed value of Eq. 1', async () => {
    await expectNoTensorLeak(() => {
      // label gaps [2, −1, 0, 1], prediction gaps [0.3, 0.5, −0.8, −0.5]
      // −products [−0.6, 0.5, 0, 0.5] → hinge [0, 0.5, 0, 0.5] → mean 0.25
      const inputs = [t([3, 1, 2, 5]), t([1, 2, 2, 4]), t([0.5, 0.8, 0.1, 1.0]), t([0.2, 0.3, 0.9, 1.5])] as const;
      const loss = rankingHinge(...inputs);
      expect(loss.shape).toEqual([]);
      expectArraysClose(loss.dataSync(), [0.25]);
      tf.dispose([loss, ...inputs]);
    });
  });

  it('is zero when every pair is ordered as its labels', () => {
    const v = tf.tidy(() => rankingHinge(t([5, 1]), t([1, 5]), t([2, -1]), t([1, 3])).dataSync()[0]);
    expect(v).toBe(0);
  });

  it('with a margin, also costs rightly ordered pairs that are too close, weighted by the label gap', () => {
    // label gaps [2, −1, 0, 1], prediction gaps [0.3, 0.5, −0.8, −0.05], margin 0.2
    // sign · gap [0.3, −0.5, 0, −0.05] → shortfall [0, 0.7, (equal labels), 0.25]
    // · |label gap| [0, 0.7, 0, 0.25] → mean 0.2375
    const v = tf.tidy(() => rankingHinge(t([3, 1, 2, 5]), t([1, 2, 2, 4]), t([0.5, 0.8, 0.1, 1.0]), t([0.2, 0.3, 0.9, 1.05]), { margin: 0.2 }).dataSync()[0]);
    expect(v).toBeCloseTo(0.2375, 6);
    // Eq. 1 gives no signal to equal predictions; the margin does.
    const [flat, withMargin] = tf.tidy(() => {
      const x = t([1, 1]);
      const g0 = tf.grad((p: tf.Tensor) => rankingHinge(t([2, 1]), t([1, 2]), p, t([1, 1])))(x);
      const g1 = tf.grad((p: tf.Tensor) => rankingHinge(t([2, 1]), t([1, 2]), p, t([1, 1]), { margin: 0.1 }))(x);
      return [Array.from(g0.dataSync()), Array.from(g1.dataSync())];
    });
    expect(flat.map(Math.abs)).toEqual([0, 0]);
    expect(withMargin).toEqual([-0.5, 0.5]);
    expect(() => rankingHinge(t([1]), t([2]), t([0]), t([0]), { margin: -1 })).toThrow(/options.margin must be a finite number ≥ 0, got -1/);
  });

  it('has gradients equal to finite differences w.r.t. both predictions', () => {
    const q1 = [3, 1, 2, 5, -1];
    const q2 = [1, 2, 2.5, 4, 1];
    const other = [0.2, 0.3, 0.9, 1.5, -0.4];
    const x0 = [0.5, 0.8, 0.1, 1.0, 0.3];
    const first = gradientPair((x) => rankingHinge(t(q1), t(q2), x, t(other)), x0, [5]);
    expectArraysClose(first.analytic, first.numeric, { atol: 2e-3, rtol: 1e-2 });
    const second = gradientPair((x) => rankingHinge(t(q1), t(q2), t(other), x), x0, [5]);
    expectArraysClose(second.analytic, second.numeric, { atol: 2e-3, rtol: 1e-2 });
    expect(Math.max(...first.analytic.map(Math.abs))).toBeGreaterThan(0.1);
  });

  it('leaks no tensor across forward and backward', async () => {
    await expectNoTensorLeak(() => {
      const a = t([1, 2]);
      const b = t([2, 1]);
      const p = variableOf([0.3, 0.1], [2]);
      const { value, grads } = tf.variableGrads(() => rankingHinge(a, b, p, t([0.1, 0.2])), [p]);
      expect(grads[p.name].shape).toEqual([2]);
      tf.dispose([a, b, p, value, grads[p.name]]);
    });
  });

  it('rejects mismatched shapes, naming the argument and both shapes', () => {
    const a = t([1, 2]);
    const b = t([1, 2, 3]);
    const m = tf.zeros([2, 1]);
    expect(() => rankingHinge(a, a, a, b)).toThrow(LossError);
    expect(() => rankingHinge(a, a, a, b)).toThrow(/rankingHinge: qHat2 must have shape \[2\], got \[3\]/);
    expect(() => rankingHinge(m, a, a, a)).toThrow(/q1 must have shape \[\?\], got \[2, 1\]/);
    expect(() => rankingHinge(t([]), t([]), t([]), t([]))).toThrow(/B ≥ 1/);
    expect(() => rankingHinge(a, a, tf.tensor1d([1, 2], 'int32'), a)).toThrow(/qHat1 must have dtype float32, got int32/);
    expectError(() => rankingHinge(a, b, a, a), LossError, 'E_LOSS_SHAPE', /q2 must have shape \[2\], got \[3\]/);
    expectError(() => rankingHinge(a, a, a, tf.tensor1d([1, 2], 'int32')), LossError, 'E_LOSS_DTYPE', /qHat2/);
    tf.dispose([a, b, m]);
  });
});
