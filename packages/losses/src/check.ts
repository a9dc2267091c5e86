import type { tf } from '@vqlm/runtime';
import { LossError } from './errors.js';

/** `[2, 3]` style text for a shape; `null` entries print as `?`. */
export function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function isTensor(value: unknown): value is tf.Tensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { shape?: unknown }).shape) &&
    typeof (value as { dtype?: unknown }).dtype === 'string' &&
    typeof (value as { dataSync?: unknown }).dataSync === 'function'
  );
}

/**
 * Checks that `value` is a tensor whose shape matches `expected` (a `null`
 * entry matches any size) and returns it. Throws {@link LossError}
 * `E_LOSS_SHAPE` naming the function, the argument and both shapes.
 */
export function checkShape(fn: string, name: string, value: unknown, expected: readonly (number | null)[]): tf.Tensor {
  if (!isTensor(value)) {
    throw new LossError('E_LOSS_ARG', `${fn}: ${name} must be a tf.Tensor of shape ${shapeText(expected)}, got ${typeof value}`);
  }
  const ok = value.shape.length === expected.length && expected.every((d, i) => d === null || d === value.shape[i]);
  if (!ok) {
    throw new LossError(
      'E_LOSS_SHAPE',
      `${fn}: ${name} must have shape ${shapeText(expected)}, got ${shapeText(value.shape)}`,
    );
  }
  return value;
}

/** Throws `E_LOSS_DTYPE` unless `t.dtype` is one of `allowed`. */
export function checkDtype(fn: string, name: string, t: tf.Tensor, allowed: readonly tf.DataType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new LossError('E_LOSS_DTYPE', `${fn}: ${name} must have dtype ${allowed.join(' or ')}, got ${t.dtype}`);
  }
}
