import { MetricError } from './metric-error.js';

/** Numbers as accepted by every metric: a plain array or any typed array. */
export type NumericArray = ArrayLike<number>;

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return String(value);
}

/**
 * Returns `values` as a `Float64Array` (the input itself when it already is
 * one: callers never write to it; otherwise a copy), throwing `E_NOT_FINITE`
 * naming the first index that holds `NaN`, `±Infinity` or a non-number.
 */
export function toFiniteFloat64(values: NumericArray, name: string): Float64Array {
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `${name} must be an array of numbers or a typed array, got ${describe(values)}`,
    );
  }
  if (values instanceof Float64Array) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new MetricError(
          'E_NOT_FINITE',
          `${name}[${i}] is ${describe(values[i])}; every value must be a finite number`,
        );
      }
    }
    return values;
  }
  const n = values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new MetricError(
        'E_NOT_FINITE',
        `${name}[${i}] is ${describe(v)}; every value must be a finite number`,
      );
    }
    out[i] = v;
  }
  return out;
}

/**
 * Checks a pair of equally long vectors of at least `minPoints` finite
 * numbers and returns them as `Float64Array`s.
 */
export function checkPair(
  a: NumericArray,
  b: NumericArray,
  nameA: string,
  nameB: string,
  minPoints = 3,
): [Float64Array, Float64Array] {
  const x = toFiniteFloat64(a, nameA);
  const y = toFiniteFloat64(b, nameB);
  if (x.length !== y.length) {
    throw new MetricError(
      'E_LENGTH_MISMATCH',
      `${nameA} and ${nameB} must have the same length: ${nameA} has ${x.length} values, ${nameB} has ${y.length}`,
    );
  }
  if (x.length < minPoints) {
    throw new MetricError(
      'E_TOO_FEW_POINTS',
      `needs at least ${minPoints} points, got ${x.length} (${nameA}, ${nameB})`,
    );
  }
  return [x, y];
}

/** Throws `E_CONSTANT` when every value of `x` is equal. */
export function checkNotConstant(x: Float64Array, name: string, what: string): void {
  const first = x[0];
  for (let i = 1; i < x.length; i++) if (x[i] !== first) return;
  throw new MetricError(
    'E_CONSTANT',
    `${name} is constant (all ${x.length} values equal ${first}): ${what} is undefined`,
  );
}

/** Throws `E_INVALID_ARGUMENT` unless `value` is one of `allowed`. */
export function checkChoice<T extends string | number>(
  value: unknown,
  allowed: readonly T[],
  name: string,
): T {
  if (!allowed.includes(value as T)) {
    throw new MetricError(
      'E_INVALID_ARGUMENT',
      `${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}
