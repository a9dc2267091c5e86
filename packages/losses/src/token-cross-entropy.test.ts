import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, expectNoTensorLeak, gradientPair, tf } from '@vqlm/runtime';
import { expectError, useCpuBackend, variableOf } from './__fixtures__/tensor-test-utils.js';
import { LossError } from './errors.js';
import { tokenCrossEntropy } from './token-cross-entropy.js';

beforeAll(useCpuBackend);

const ids = (values: number[][]): tf.Tensor2D => tf.tensor2d(values, undefined, 'int32');

describe('tokenCrossEntropy', () => {
  it('averages over target tokens only, ignoring −100 (Eq. 3)', () => {
    // position 0: uniform over 3 → −log(1/3) = 1.0986123
    // position 1: 3 − log(e + e² + e³) = −0.4076059 → 0.4076059
    // position 2: ignored (its extreme logits must not matter)
    const v = tf.tidy(() => {
      const logits = tf.tensor3d([[[0, 0, 0], [1, 2, 3], [1000, 0, -1000]]]);
      return tokenCrossEntropy(logits, ids([[0, 2, -100]])).dataSync()[0];
    });
    expect(v).toBeCloseTo((1.0986123 + 0.4076059) / 2, 5);
  });

  it('uses a padding mask and a custom ignoreIndex, and is stable for huge logits', () => {
    const v = tf.tidy(() => {
      const logits = tf.tensor3d([[[1000, 0, -1000], [0, 0, 0]], [[5, 5, 5], [2, 1, 0]]]);
      const targets = ids([[1, 0], [7, 2]]);
      const padding = tf.tensor2d([[1, 0], [1, 1]]);
      return tokenCrossEntropy(logits, targets, { paddingMask: padding, ignoreIndex: 7 }).dataSync()[0];
    });
    // counted: [0,0] target 1 → 1000; [1,1] target 2 → 2 + log(1 + e⁻¹ + e⁻²) = 2.4076059
    expect(v).toBeCloseTo((1000 + 2.4076059) / 2, 3);
  });

  it('gives 0 with a zero gradient when every position is ignored', () => {
    const [value, maxGrad] = tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => tokenCrossEntropy(l, ids([[-100, -100]])))(
        tf.ones([1, 2, 4]),
      );
      return [value.dataSync()[0], tf.max(tf.abs(grad)).dataSync()[0]];
    });
    expect(Math.abs(value)).toBe(0);
    expect(maxGrad).toBe(0);
  });

  it('has gradients equal to finite differences', () => {
    const x0 = Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i * 1.7) * 2);
    const targets = [[0, 3, -100], [2, 1, 1]];
    const { analytic, numeric } = gradientPair((l) => tokenCrossEntropy(l, ids(targets)), x0, [2, 3, 4]);
    expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 1e-2 });
    // ignored position [0, 2] gets no gradient
    expect(Array.from(analytic.slice(8, 12), Math.abs)).toEqual([0, 0, 0, 0]);
  });

  it('leaks no tensor across forward and backward', async () => {
    await expectNoTensorLeak(() => {
      const logits = variableOf(Array.from({ length: 30 }, (_, i) => Math.cos(i)), [2, 3, 5]);
      const targets = ids([[0, 1, -100], [4, 3, 2]]);
      const { value, grads } = tf.variableGrads(() => tokenCrossEntropy(logits, targets), [logits]);
      tf.dispose([logits, targets, value, grads[logits.name]]);
    });
  });

  it('rejects bad shapes, dtypes and target ids', () => {
    const logits = tf.zeros([2, 3, 4]);
    expectError(
      () => tokenCrossEntropy(logits, ids([[0, 1], [1, 1]])),
      LossError,
      'E_LOSS_SHAPE',
      /tokenCrossEntropy: targets must have shape \[2, 3\], got \[2, 2\]/,
    );
    expectError(() => tokenCrossEntropy(tf.zeros([2, 3]), ids([[0]])), LossError, 'E_LOSS_SHAPE', /logits must have shape \[\?, \?, \?\], got \[2, 3\]/);
    expectError(
      () => tokenCrossEntropy(logits, tf.zeros([2, 3])),
      LossError,
      'E_LOSS_DTYPE',
      /targets must have dtype int32, got float32/,
    );
    expectError(
      () => tokenCrossEntropy(logits, ids([[0, 1, 2], [3, 4, 0]])),
      LossError,
      'E_LOSS_ARG',
      /targets\[1, 1\] = 4 is outside \[0, 4\)/,
    );
    expectError(
      () => tokenCrossEntropy(logits, ids([[0, 1, 2], [3, 0, 0]]), { paddingMask: tf.ones([3, 2]) }),
      LossError,
      'E_LOSS_SHAPE',
      /paddingMask must have shape \[2, 3\], got \[3, 2\]/,
    );
    expectError(() => tokenCrossEntropy(logits, ids([[0, 1, 2], [3, 0, 0]]), { ignoreIndex: 0.5 }), LossError, 'E_LOSS_ARG', /ignoreIndex must be an integer/);
    logits.dispose();
  });
});
