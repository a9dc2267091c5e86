import { tf } from '@vqlm/runtime';
import { checkDtype, checkShape, shapeText } from './check.js';
import { LossError } from './errors.js';

const FN = 'monotonicityLoss';

/** Options of {@link monotonicityLoss}. */
export interface MonotonicityLossOptions {
  /**
   * Divide by 1 + the largest pairwise violation, as FAST-VQA and DOVER do, so
   * the loss stays below 1 whatever the score scale. Default true.
   */
  readonly normalize?: boolean;
}

/**
 * Rank (monotonicity) loss over all pairs in a batch, as in FAST-VQA and DOVER:
 *
 *   v_ij = max(0, (p_i − p_j) · sign(y_j − y_i))
 *   L_mono = Σ_{i,j} v_ij / (B (B − 1)) / (1 + max_{i,j} v_ij)
 *
 * v_ij is positive only when the predictions order i and j against their
 * labels (higher label = better). Pairs with equal labels and the diagonal
 * add 0. With `normalize: false` the last factor is dropped. The max is part
 * of the computation graph (not a constant), as in the reference formulation.
 * Since v_ij = v_ji, the pairs i < j are computed once (same value; the max
 * then is not a built-in tie, so its gradient is not counted twice).
 *
 * @param pred predicted scores, shape [B], float32, B ≥ 2
 * @param target labels (higher = better), shape [B], float32
 * @param options `normalize` (default true)
 * @returns scalar loss
 * @throws {LossError} `E_LOSS_SHAPE` when the shapes differ or B < 2.
 */
export function monotonicityLoss(
  pred: tf.Tensor,
  target: tf.Tensor,
  options: MonotonicityLossOptions = {},
): tf.Scalar {
  const p = checkShape(FN, 'pred', pred, [null]);
  const batch = p.shape[0];
  if (batch < 2) {
    throw new LossError('E_LOSS_SHAPE', `${FN}: pred must have shape [B] with B ≥ 2, got ${shapeText(p.shape)}`);
  }
  checkDtype(FN, 'pred', pred, ['float32']);
  checkShape(FN, 'target', target, [batch]);
  checkDtype(FN, 'target', target, ['float32']);
  const normalize = options.normalize ?? true;
  // v_ij = v_ji, so the sum over ordered pairs / B(B−1) equals the sum over
  // i < j / (B(B−1)/2), and the max is the same. Keeping only i < j stops the
  // max from always being a tie of two entries (whose gradient would count twice).
  const upper = new Float32Array(batch * batch);
  for (let i = 0; i < batch; i++) for (let j = i + 1; j < batch; j++) upper[i * batch + j] = 1;
  return tf.tidy(() => {
    // [B, 1] − [1, B] → [B, B] with entry (i, j) = x_i − x_j.
    const predGap = tf.sub(tf.expandDims(pred, 1), tf.expandDims(pred, 0));
    const labelOrder = tf.sign(tf.sub(tf.expandDims(target, 0), tf.expandDims(target, 1)));
    const violations = tf.mul(tf.relu(tf.mul(predGap, labelOrder)), tf.tensor2d(upper, [batch, batch]));
    const mean = tf.div(tf.sum(violations), (batch * (batch - 1)) / 2);
    return (normalize ? tf.div(mean, tf.add(tf.max(violations), 1)) : mean) as tf.Scalar;
  });
}
