import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, gradientPair, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend, variableOf } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { monotonicityLoss } from './monotonicity-loss.js';

beforeAll(useCpuBackend);

const t = (values: number[]): tf.Tensor1D => tf.tensor1d(values, 'float32');

describe('monotonicityLoss', () => {
  it('matches hand-computed values', () => {
    // pred [1,3,2], target [1,2,3]: only items 1 and 2 are swapped, v_12 = v_21 = 1;
    // Σ v / (3·2) = 1/3, normalised by 1 + max v = 2 → 1/6
    const normalised = tf.tidy(() => monotonicityLoss(t([1, 3, 2]), t([1, 2, 3])).dataSync()[0]);
    const raw = tf.tidy(() => monotonicityLoss(t([1, 3, 2]), t([1, 2, 3]), { normalize: false }).dataSync()[0]);
    expect(normalised).toBeCloseTo(1 / 6, 6);
    expect(raw).toBeCloseTo(1 / 3, 6);
  });

  it('is 0 for correctly ordered predictions and ignores tied labels', () => {
    expect(tf.tidy(() => monotonicityLoss(t([0.1, 0.5, 0.9]), t([1, 2, 3])).dataSync()[0])).toBe(0);
    expect(tf.tidy(() => monotonicityLoss(t([0.9, 0.1]), t([2, 2])).dataSync()[0])).toBe(0);
  });

  it('has gradients equal to finite differences', () => {
    const target = [1, 3, 2, 4.5, 0.5];
    const { analytic, numeric } = gradientPair((p) => monotonicityLoss(p, t(target)), [0.3, 1.2, 1.5, 0.1, -0.4], [5]);
    expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 2e-2 });
    expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('leaks no tensor across forward and backward', async () => {
    await expectNoTensorLeak(() => {
      const p = variableOf([0.3, 0.1, 2], [3]);
      const target = t([1, 3, 2]);
      const { value, grads } = tf.variableGrads(() => monotonicityLoss(p, target), [p]);
      tf.dispose([p, target, value, grads[p.name]]);
    });
  });

  it('rejects bad shapes', () => {
    expectError(() => monotonicityLoss(t([1]), t([1])), LossError, 'E_LOSS_SHAPE', /monotonicityLoss: pred must have shape \[B\] with B ≥ 2, got \[1\]/);
    expectError(() => monotonicityLoss(t([1, 2]), t([3])), LossError, 'E_LOSS_SHAPE', /target must have shape \[2\], got \[1\]/);
  });
});
