import { TensorLeakError } from './errors.js';
import { tf } from './tf.js';

/**
 * Runs `fn` and throws {@link TensorLeakError} (code `E_TENSOR_LEAK`) when the
 * number of live tfjs tensors afterwards differs from the number before. The
 * tensors `fn` returns count as leaked unless they are disposed by `fn`, so
 * return plain values (e.g. `await t.data()` then dispose).
 */
export async function expectNoTensorLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new TensorLeakError(before, after);
  return result;
}
