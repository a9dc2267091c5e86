import { tf } from '@vqlm/runtime';
import { checkShape } from './check.js';
import { LossError } from './errors.js';

const FN = 'multiTask';

/** Result of {@link multiTask}. */
export interface MultiTaskResult {
  /** Σ_k w_k · L_k, a scalar tensor owned by the caller (or the enclosing `tf.tidy`). */
  readonly total: tf.Scalar;
  /** Each unweighted part L_k as a number, for logging. */
  readonly parts: Readonly<Record<string, number>>;
  /** The weight w_k used for each part. */
  readonly weights: Readonly<Record<string, number>>;
  /** `total` as a number. */
  readonly totalValue: number;
}

/**
 * Weighted sum of loss terms, CP-LLM's multi-task objective
 * L = L_rank + L_mse + L_ce (equal weights, w_k = 1, by default):
 *
 *   L = Σ_k w_k · L_k
 *
 * The part tensors are not disposed (the caller, usually a `tf.tidy` or
 * `optimizer.minimize` closure, owns them). Reading `parts`/`totalValue` is
 * a synchronous download of one number per part.
 *
 * @param parts name → scalar loss tensor (shape [])
 * @param weights name → weight ≥ 0; a missing name gets 1; every name must
 *   be one of `parts`
 * @returns total (scalar tensor), parts and total as numbers, the weights used
 * @throws {LossError} `E_LOSS_SHAPE` when a part is not a scalar;
 *   `E_LOSS_ARG` when there are no parts, a weight names no part, or a weight
 *   is negative or not finite.
 */
export function multiTask(
  parts: Readonly<Record<string, tf.Tensor>>,
  weights: Readonly<Record<string, number>> = {},
): MultiTaskResult {
  const names = Object.keys(parts);
  if (names.length === 0) throw new LossError('E_LOSS_ARG', `${FN}: parts must name at least one loss, got none`);
  for (const name of names) checkShape(FN, `parts.${name}`, parts[name], []);
  for (const [name, w] of Object.entries(weights)) {
    if (!names.includes(name)) {
      throw new LossError('E_LOSS_ARG', `${FN}: weights.${name} names no part (parts: ${names.join(', ')})`);
    }
    if (!Number.isFinite(w) || w < 0) {
      throw new LossError('E_LOSS_ARG', `${FN}: weights.${name} must be a finite number ≥ 0, got ${w}`);
    }
  }
  const used: Record<string, number> = {};
  const values: Record<string, number> = {};
  for (const name of names) {
    used[name] = weights[name] ?? 1;
    values[name] = parts[name].dataSync()[0];
  }
  const total = tf.tidy(() => tf.addN(names.map((name) => tf.mul(parts[name], used[name]))) as tf.Scalar);
  return { total, parts: values, weights: used, totalValue: total.dataSync()[0] };
}
