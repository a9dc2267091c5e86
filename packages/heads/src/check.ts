import type { tf } from '@vqlm/runtime';
import { HeadError } from './errors.js';

/** `[2, 3]` style text for a shape; `null` entries print as `?`. */
export function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function isTensor(value: unknown): value is tf.Tensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { shape?: unknown }).shape) &&
    typeof (value as { dtype?: unknown }).dtype === 'string'
  );
}

/**
 * Checks that `value` is a float32 tensor whose shape matches one of
 * `expected` (a `null` entry matches any size) and returns it; throws
 * {@link HeadError} `E_HEAD_SHAPE` naming the argument and both shapes.
 */
export function checkFloatTensor(
  where: string,
  name: string,
  value: unknown,
  ...expected: readonly (readonly (number | null)[])[]
): tf.Tensor {
  const wanted = expected.map(shapeText).join(' or ');
  if (!isTensor(value)) {
    throw new HeadError('E_HEAD_ARG', `${where}: ${name} must be a tf.Tensor of shape ${wanted}, got ${typeof value}`);
  }
  const fits = (e: readonly (number | null)[]): boolean =>
    value.shape.length === e.length && e.every((d, i) => d === null || d === value.shape[i]);
  if (!expected.some(fits)) {
    throw new HeadError('E_HEAD_SHAPE', `${where}: ${name} must have shape ${wanted}, got ${shapeText(value.shape)}`);
  }
  if (value.dtype !== 'float32') {
    throw new HeadError('E_HEAD_ARG', `${where}: ${name} must have dtype float32, got ${value.dtype}`);
  }
  return value;
}

/** Throws `E_HEAD_ARG` unless `value` is an integer ≥ `min`. */
export function checkInteger(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new HeadError('E_HEAD_ARG', `${where}: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}
