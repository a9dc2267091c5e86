// Numeric test utilities, public like tfjs's `test_util`: they throw plain
// typed errors and import no test framework, so any runner can use them.
import { ArraysNotCloseError, RuntimeArgumentError } from './errors.js';
import { tf } from './tf.js';

/** Tolerances of {@link expectArraysClose}. */
export interface ArraysCloseOptions {
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance, times |expected[i]| (default 1e-4). */
  rtol?: number;
}

/** Options of {@link gradientPair}. */
export interface GradientPairOptions {
  /**
   * Finite-difference step (default 1e-3, suited to float32: rounding error
   * ~1e-7/h, truncation error ~h²).
   */
  h?: number;
}

/** Result of {@link gradientPair}: both gradients of `f` at `x0`, flattened in `x0`'s order. */
export interface GradientPair {
  /** tf.grad's gradient, as the backend returns it (float32). */
  analytic: Float32Array;
  /** Central finite differences, computed in float64 from float32 evaluations of `f`. */
  numeric: Float64Array;
}

function checkTolerance(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RuntimeArgumentError(`expectArraysClose: ${name} must be a finite number ≥ 0, got ${value}`);
  }
}

/**
 * Asserts element-wise `|actual[i] − expected[i]| ≤ atol + rtol·|expected[i]|`
 * (NaN anywhere fails). Throws {@link ArraysNotCloseError} (`E_NOT_CLOSE`)
 * naming the first index out of tolerance with both values and the
 * tolerance, or both lengths when they differ. Does not import any test
 * framework, so a throw fails the calling test in any runner.
 *
 * @param actual flat values, e.g. `await t.data()`
 * @param expected flat values of the same length
 * @throws {RuntimeArgumentError} (`E_ARG`) for a negative or non-finite tolerance
 */
export function expectArraysClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4 }: ArraysCloseOptions = {},
): void {
  checkTolerance('atol', atol);
  checkTolerance('rtol', rtol);
  if (actual.length !== expected.length) {
    throw new ArraysNotCloseError(
      -1,
      `expectArraysClose: actual has length ${actual.length}, expected has length ${expected.length}`,
    );
  }
  for (let i = 0; i < expected.length; i++) {
    const tolerance = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      throw new ArraysNotCloseError(
        i,
        `expectArraysClose: index ${i}: got ${actual[i]}, expected ${expected[i]} (±${tolerance})`,
      );
    }
  }
}

/**
 * The analytic gradient of the scalar function `f` at `x0` (`tf.grad`) next
 * to the central finite difference `(f(x + h·e_i) − f(x − h·e_i)) / 2h` for
 * every element i, both as flat arrays; compare them with
 * {@link expectArraysClose}. Costs 2·size(x0) + 1 evaluations of `f`, so keep
 * `x0` tiny. All tensors it makes are freed.
 *
 * @param f scalar function of a float32 tensor of shape `shape`
 * @param x0 the point, flattened (row-major), length = product of `shape`
 * @param shape the shape of `f`'s input, e.g. `[B, N]`
 * @throws {RuntimeArgumentError} (`E_ARG`) when `x0.length` does not match `shape`, or `h` is not a finite number > 0
 */
export function gradientPair(
  f: (x: tf.Tensor) => tf.Scalar,
  x0: readonly number[],
  shape: readonly number[],
  { h = 1e-3 }: GradientPairOptions = {},
): GradientPair {
  const size = shape.reduce((a, b) => a * b, 1);
  if (x0.length !== size) {
    throw new RuntimeArgumentError(
      `gradientPair: x0 has length ${x0.length} but shape [${shape.join(', ')}] holds ${size} values`,
    );
  }
  if (!Number.isFinite(h) || h <= 0) {
    throw new RuntimeArgumentError(`gradientPair: h must be a finite number > 0, got ${h}`);
  }
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
