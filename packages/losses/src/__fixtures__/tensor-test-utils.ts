// Test helpers shared by this package's tests (not part of the build).
import { expect } from 'vitest';
import { initBackend, tf } from '@vqlm/runtime';

/** Selects the tfjs cpu backend (float32 everywhere; gradients registered), once per test file. */
export async function useCpuBackend(): Promise<void> {
  await initBackend({ backend: 'cpu' });
}

/** Asserts element-wise |a − e| ≤ atol + rtol·|e|, reporting the first index that is off. */
export function expectArraysClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4 }: { atol?: number; rtol?: number } = {},
): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]} (±${tolerance})`);
    }
  }
}

/**
 * Analytic gradient of `f` at `x0` (tf.grad) next to the central finite
 * difference (f(x + h·e_i) − f(x − h·e_i)) / 2h, both as plain arrays.
 * `h` defaults to 1e-3, a float32-appropriate step: rounding error ~1e-7/h,
 * truncation ~h².
 */
export function gradientPair(
  f: (x: tf.Tensor) => tf.Scalar,
  x0: readonly number[],
  shape: readonly number[],
  h = 1e-3,
): { analytic: Float32Array; numeric: Float64Array } {
  const gradient = tf.tidy(() => tf.grad(f)(tf.tensor(x0 as number[], shape as number[], 'float32')));
  const analytic = gradient.dataSync() as Float32Array;
  gradient.dispose();
  const numeric = new Float64Array(x0.length);
  const evalAt = (values: number[]): number =>
    tf.tidy(() => f(tf.tensor(values, shape as number[], 'float32')).dataSync()[0]);
  for (let i = 0; i < x0.length; i++) {
    const plus = [...x0];
    const minus = [...x0];
    plus[i] += h;
    minus[i] -= h;
    numeric[i] = (evalAt(plus) - evalAt(minus)) / (2 * h);
  }
  return { analytic, numeric };
}

/** Asserts that `fn` throws an instance of `errorClass` with `code` and a message matching `pattern`. */
export function expectError(
  fn: () => unknown,
  errorClass: new (...args: never[]) => Error,
  code: string,
  pattern: RegExp,
): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(errorClass);
  expect((caught as { code?: unknown }).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
}

/** A trainable variable holding `values`; the initial tensor is freed (variables survive tf.tidy). */
export function variableOf(values: number[], shape: number[]): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32')));
}
