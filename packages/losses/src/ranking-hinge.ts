import { tf } from '@vqlm/runtime';
import { checkDtype, checkShape } from './check.js';
import { LossError } from './errors.js';

const FN = 'rankingHinge';

/**
 * Pairwise ranking hinge loss, CP-LLM Eq. 1:
 *
 *   L_rank = mean_b max(0, −(q1_b − q2_b) · (q̂1_b − q̂2_b))
 *
 * Sign convention: `q` are quality labels where **higher means better**
 * (MOS, pseudo-MOS, or any score that orders the pair). The loss is zero when
 * the predictions order the pair as the labels do, and grows with the
 * prediction gap times the label gap otherwise. For pairs of compression
 * variants of one source labelled only by their H.264 CRF (lower CRF = better
 * quality) pass `q = −CRF` (so CRF 15 vs 53 gives q1 − q2 = 38: wider gaps
 * weigh more), or `q = −sign(CRF1 − CRF2)` on both sides (q1 = that sign,
 * q2 = 0) to weigh every wrongly ordered pair by the prediction gap alone.
 * Pairs with equal labels contribute 0.
 *
 * @param q1 labels of the first videos, shape [B], float32
 * @param q2 labels of the second videos, shape [B], float32
 * @param qHat1 predicted scores of the first videos, shape [B], float32
 * @param qHat2 predicted scores of the second videos, shape [B], float32
 * @returns scalar loss (mean over the B pairs)
 * @throws {LossError} `E_LOSS_SHAPE` when a tensor is not [B] with one shared
 *   B ≥ 1; `E_LOSS_DTYPE` when a tensor is not float32.
 */
export function rankingHinge(q1: tf.Tensor, q2: tf.Tensor, qHat1: tf.Tensor, qHat2: tf.Tensor): tf.Scalar {
  const first = checkShape(FN, 'q1', q1, [null]);
  const batch = first.shape[0];
  if (batch < 1) throw new LossError('E_LOSS_SHAPE', `${FN}: q1 must have shape [B] with B ≥ 1, got [0]`);
  const inputs = { q1, q2, qHat1, qHat2 };
  for (const [name, t] of Object.entries(inputs)) {
    checkShape(FN, name, t, [batch]);
    checkDtype(FN, name, t, ['float32']);
  }
  return tf.tidy(() => {
    const labelGap = tf.sub(q1, q2);
    const predictedGap = tf.sub(qHat1, qHat2);
    return tf.mean(tf.relu(tf.neg(tf.mul(labelGap, predictedGap))));
  });
}
