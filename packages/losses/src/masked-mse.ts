import { tf } from '@vqlm/runtime';
import { checkDtype, checkShape } from './check.js';
import { LossError } from './errors.js';

const FN = 'maskedMse';

/**
 * Mean squared error over the items selected by `mask`, CP-LLM Eq. 2:
 *
 *   L_mse = Σ_b m_b (q̂_b − MOS_b)² / max(1, Σ_b m_b)
 *
 * In CP-LLM, `m_b = 1` when the first video of training item b is an original
 * (it has a MOS); compressed variants carry only a ranking label. When no item
 * is selected the loss is exactly 0 and its gradient is 0 (never NaN).
 * Targets of unselected items are never read, so they may be NaN (e.g. "no
 * MOS").
 *
 * @param pred predicted scores, shape [B], float32
 * @param target MOS labels, shape [B], float32 (any value where mask is 0)
 * @param mask 1 where the item counts, 0 elsewhere, shape [B], bool or float32
 *   (a float mask is read as `mask != 0`)
 * @returns scalar loss
 * @throws {LossError} `E_LOSS_SHAPE` when the three shapes differ or are not
 *   [B]; `E_LOSS_DTYPE` on a wrong dtype.
 */
export function maskedMse(pred: tf.Tensor, target: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const first = checkShape(FN, 'pred', pred, [null]);
  const batch = first.shape[0];
  if (batch < 1) throw new LossError('E_LOSS_SHAPE', `${FN}: pred must have shape [B] with B ≥ 1, got [0]`);
  checkDtype(FN, 'pred', pred, ['float32']);
  checkShape(FN, 'target', target, [batch]);
  checkDtype(FN, 'target', target, ['float32']);
  checkShape(FN, 'mask', mask, [batch]);
  checkDtype(FN, 'mask', mask, ['bool', 'float32', 'int32']);
  return tf.tidy(() => {
    const selected = mask.dtype === 'bool' ? mask : tf.notEqual(mask, 0);
    const zeros = tf.zerosLike(pred);
    // Replace unselected targets before subtracting so a NaN label cannot
    // reach the value or the gradient (0 · NaN would be NaN).
    const safeTarget = tf.where(selected, target, zeros);
    const diff = tf.where(selected, tf.sub(pred, safeTarget), zeros);
    const count = tf.sum(tf.cast(selected, 'float32'));
    return tf.div(tf.sum(tf.square(diff)), tf.maximum(count, 1));
  });
}
