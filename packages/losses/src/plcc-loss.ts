import { tf } from '@vqlm/runtime';
import { checkDtype, checkShape, shapeText } from './check.js';
import { LossError } from './errors.js';

const FN = 'plccLoss';

/** Added to the variance before the square root, so a constant batch gives no NaN. */
const VARIANCE_EPSILON = 1e-8;

/**
 * Linearity (PLCC) loss as used by FAST-VQA and DOVER. Both vectors are
 * standardised over the batch (population standard deviation),
 * p̃ = (p − mean p) / sqrt(var p + ε), ỹ likewise, ρ = mean(p̃ ỹ) (the PLCC),
 * and
 *
 *   L_plcc = ( mean((p̃ − ỹ)²) / 4 + mean((ρ p̃ − ỹ)²) / 4 ) / 2
 *          ≈ (1 − ρ) / 4 + (1 − ρ²) / 8
 *
 * so L is 0 at ρ = 1, 0.375 at ρ = 0 and 0.5 at ρ = −1. It is invariant to
 * the scale and offset of `pred`, which is why those papers pair it with a
 * rank loss and calibrate afterwards.
 *
 * @param pred predicted scores, shape [B], float32, B ≥ 2
 * @param target labels (MOS), shape [B], float32
 * @returns scalar loss
 * @throws {LossError} `E_LOSS_SHAPE` when the shapes differ or B < 2.
 */
export function plccLoss(pred: tf.Tensor, target: tf.Tensor): tf.Scalar {
  const p = checkShape(FN, 'pred', pred, [null]);
  if (p.shape[0] < 2) {
    throw new LossError('E_LOSS_SHAPE', `${FN}: pred must have shape [B] with B ≥ 2, got ${shapeText(p.shape)}`);
  }
  checkDtype(FN, 'pred', pred, ['float32']);
  checkShape(FN, 'target', target, [p.shape[0]]);
  checkDtype(FN, 'target', target, ['float32']);
  return tf.tidy(() => {
    const standardise = (x: tf.Tensor): tf.Tensor => {
      const { mean, variance } = tf.moments(x);
      return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, VARIANCE_EPSILON)));
    };
    const ps = standardise(pred);
    const ys = standardise(target);
    const rho = tf.mean(tf.mul(ps, ys));
    const linear = tf.div(tf.mean(tf.squaredDifference(ps, ys)), 4);
    const scaled = tf.div(tf.mean(tf.squaredDifference(tf.mul(rho, ps), ys)), 4);
    return tf.div(tf.add(linear, scaled), 2);
  });
}
