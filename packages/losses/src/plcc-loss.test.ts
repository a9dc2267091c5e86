import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, gradientPair, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend, variableOf } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { plccLoss } from './plcc-loss.js';

beforeAll(useCpuBackend);

const t = (values: number[]): tf.Tensor1D => tf.tensor1d(values, 'float32');
const value = (pred: number[], target: number[]): number => tf.tidy(() => plccLoss(t(pred), t(target)).dataSync()[0]);

describe('plccLoss', () => {
  it('is 0 for a positive linear relation and 0.5 for a negative one', () => {
    expect(value([3, 5, 7, 11], [1, 2, 3, 5])).toBeCloseTo(0, 5);
    expect(value([-1, -2, -3, -5], [1, 2, 3, 5])).toBeCloseTo(0.5, 5);
  });

  it('matches the hand-computed value at ρ = 0.5', () => {
    // pred [1,2,3] and target [1,3,2] standardise to ±1.2247 with ρ = 0.5:
    // (1 − ρ)/4 + (1 − ρ²)/8 = 0.125 + 0.09375
    expect(value([1, 2, 3], [1, 3, 2])).toBeCloseTo(0.21875, 5);
  });

  it('is finite for a constant prediction', () => {
    const v = value([2, 2, 2], [1, 2, 3]);
    expect(Number.isFinite(v)).toBe(true);
  });

  it('has gradients equal to finite differences', () => {
    const target = [1, 3, 2, 4.5, 0.5];
    const { analytic, numeric } = gradientPair((p) => plccLoss(p, t(target)), [0.3, 1.2, 1.5, 0.1, -0.4], [5]);
    expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 2e-2 });
  });

  it('leaks no tensor across forward and backward', async () => {
    await expectNoTensorLeak(() => {
      const p = variableOf([0.3, 0.1, 2], [3]);
      const target = t([1, 3, 2]);
      const { value: v, grads } = tf.variableGrads(() => plccLoss(p, target), [p]);
      tf.dispose([p, target, v, grads[p.name]]);
    });
  });

  it('rejects bad shapes', () => {
    expectError(() => plccLoss(t([1]), t([1])), LossError, 'E_LOSS_SHAPE', /plccLoss: pred must have shape \[B\] with B ≥ 2, got \[1\]/);
    expectError(() => plccLoss(t([1, 2]), t([1, 2, 3])), LossError, 'E_LOSS_SHAPE', /target must have shape \[2\], got \[3\]/);
  });
});
