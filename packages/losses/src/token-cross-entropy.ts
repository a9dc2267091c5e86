import { tf } from '@vqlm/runtime';
import { checkDtype, checkShape, shapeText } from './check.js';
import { LossError } from './errors.js';

const FN = 'tokenCrossEntropy';

/** Options of {@link tokenCrossEntropy}. */
export interface TokenCrossEntropyOptions {
  /**
   * Target id that marks a position to ignore (padding, prompt tokens).
   * Default −100, as in Hugging Face `labels`.
   */
  readonly ignoreIndex?: number;
  /**
   * Extra mask, shape [B, T]: 1 (or true) where the target token counts, 0
   * where it is padding. Combined with `ignoreIndex` (a position counts only
   * when both allow it).
   */
  readonly paddingMask?: tf.Tensor;
}

/**
 * Token-level cross-entropy of a description, CP-LLM Eq. 3:
 *
 *   L_ce = −(1 / N) Σ_{b,t : counted} log softmax(logits_{b,t})[target_{b,t}]
 *
 * where N is the number of counted target tokens (not B·T): padding and
 * ignored positions add nothing to the sum and nothing to N. With N = 0 the
 * loss is 0 and its gradient 0. The log-softmax is the numerically stable
 * one (max subtracted), so large logits do not overflow. Targets pick their
 * log-probability through a one-hot product rather than `gather`, so the
 * gradient needs no `UnsortedSegmentSum` kernel.
 *
 * Logits at position t predict target t: shift them beforehand if the decoder
 * emits logits for the next token (target_t = input_{t+1}).
 *
 * @param logits decoder outputs, shape [B, T, V], float32
 * @param targets target token ids, shape [B, T], int32, each in [0, V) or
 *   equal to `ignoreIndex`
 * @param options `ignoreIndex` (default −100) and/or `paddingMask` [B, T]
 * @returns scalar loss (mean over counted target tokens)
 * @throws {LossError} `E_LOSS_SHAPE` on a shape mismatch, `E_LOSS_DTYPE` when
 *   targets are not int32, `E_LOSS_ARG` when a counted target id is outside
 *   [0, V).
 */
export function tokenCrossEntropy(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options: TokenCrossEntropyOptions = {},
): tf.Scalar {
  const l = checkShape(FN, 'logits', logits, [null, null, null]);
  const [batch, steps, vocab] = l.shape;
  if (vocab < 1) throw new LossError('E_LOSS_SHAPE', `${FN}: logits must have V ≥ 1, got ${shapeText(l.shape)}`);
  checkDtype(FN, 'logits', logits, ['float32']);
  checkShape(FN, 'targets', targets, [batch, steps]);
  checkDtype(FN, 'targets', targets, ['int32']);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) {
    throw new LossError('E_LOSS_ARG', `${FN}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  }
  const padding = options.paddingMask;
  if (padding !== undefined) {
    checkShape(FN, 'paddingMask', padding, [batch, steps]);
    checkDtype(FN, 'paddingMask', padding, ['bool', 'float32', 'int32']);
  }
  const ids = targets.dataSync();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id !== ignoreIndex && (id < 0 || id >= vocab)) {
      const b = Math.floor(i / steps);
      throw new LossError(
        'E_LOSS_ARG',
        `${FN}: targets[${b}, ${i % steps}] = ${id} is outside [0, ${vocab}) and is not ignoreIndex (${ignoreIndex})`,
      );
    }
  }
  return tf.tidy(() => {
    let counted = tf.notEqual(targets, ignoreIndex);
    if (padding !== undefined) {
      const pad = padding.dtype === 'bool' ? padding : tf.notEqual(padding, 0);
      counted = tf.logicalAnd(counted, pad);
    }
    // Ignored positions get id 0 here; their one-hot row is zeroed by `weight`.
    const safeIds = tf.where(counted, targets, tf.zerosLike(targets));
    const weight = tf.cast(counted, 'float32');
    const logProbs = tf.logSoftmax(logits, -1);
    const picked = tf.sum(tf.mul(logProbs, tf.cast(tf.oneHot(safeIds, vocab), 'float32')), -1);
    const total = tf.neg(tf.sum(tf.mul(picked, weight)));
    return tf.div(total, tf.maximum(tf.sum(weight), 1));
  });
}
