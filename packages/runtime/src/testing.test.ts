import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { ArraysNotCloseError, RuntimeArgumentError, RuntimeError } from './errors.js';
import { expectNoTensorLeak } from './leak.js';
import { expectArraysClose, gradientPair } from './testing.js';
import { tf } from './tf.js';

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: () => undefined });
});

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('expectArraysClose', () => {
  it('accepts values within atol + rtol·|expected|, including the boundary', () => {
    expect(() => expectArraysClose([1, 2, 3], new Float32Array([1, 2, 3]))).not.toThrow();
    expect(() => expectArraysClose([0.5], [0], { atol: 0.5, rtol: 0 })).not.toThrow();
    // rtol scales with |expected|: 1000 ± (0 + 0.01·1000) = ±10.
    expect(() => expectArraysClose([1009], [1000], { atol: 0, rtol: 0.01 })).not.toThrow();
    expect(() => expectArraysClose([], [])).not.toThrow();
  });

  it('throws ArraysNotCloseError naming the first bad index, both values and the tolerance', () => {
    const err = caught(() => expectArraysClose([1, 2.5, 9], [1, 2, 3], { atol: 0.1, rtol: 0 }));
    expect(err).toBeInstanceOf(ArraysNotCloseError);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as ArraysNotCloseError).code).toBe('E_NOT_CLOSE');
    expect((err as ArraysNotCloseError).index).toBe(1);
    expect((err as Error).message).toMatch(/index 1: got 2\.5, expected 2 \(±0\.1\)/);
  });

  it('uses the default tolerances atol 1e-5, rtol 1e-4', () => {
    expect(() => expectArraysClose([100.009], [100])).not.toThrow(); // tolerance 1e-5 + 1e-2
    expect(() => expectArraysClose([100.011], [100])).toThrow(/index 0: got 100\.011, expected 100/);
  });

  it('fails on NaN in either array', () => {
    expect(() => expectArraysClose([Number.NaN], [0], { atol: 1 })).toThrow(/index 0: got NaN/);
    expect(() => expectArraysClose([0, 0], [0, Number.NaN], { atol: 1 })).toThrow(/index 1: got 0, expected NaN/);
  });

  it('throws ArraysNotCloseError naming both lengths when they differ', () => {
    const err = caught(() => expectArraysClose([1, 2], [1, 2, 3]));
    expect(err).toBeInstanceOf(ArraysNotCloseError);
    expect((err as ArraysNotCloseError).index).toBe(-1);
    expect((err as Error).message).toMatch(/actual has length 2, expected has length 3/);
  });

  it('rejects a negative or non-finite tolerance with RuntimeArgumentError', () => {
    const err = caught(() => expectArraysClose([1], [1], { atol: -1 }));
    expect(err).toBeInstanceOf(RuntimeArgumentError);
    expect((err as RuntimeArgumentError).code).toBe('E_ARG');
    expect((err as Error).message).toMatch(/atol must be a finite number ≥ 0, got -1/);
    expect(() => expectArraysClose([1], [1], { rtol: Number.NaN })).toThrow(/rtol must be a finite number ≥ 0, got NaN/);
  });
});

describe('gradientPair', () => {
  const cube = (x: tf.Tensor): tf.Scalar => tf.sum(tf.pow(x, 3));

  it('returns tf.grad and central differences that both match the closed form 3x²', async () => {
    const x0 = [0.5, -1, 2, 0.25, -0.75, 1.5];
    const { analytic, numeric } = await expectNoTensorLeak(() => gradientPair(cube, x0, [2, 3]));
    const exact = x0.map((v) => 3 * v * v);
    expect(analytic).toBeInstanceOf(Float32Array);
    expect(numeric).toBeInstanceOf(Float64Array);
    expectArraysClose(analytic, exact, { atol: 1e-5, rtol: 1e-5 });
    // Truncation error of the central difference for x³ is exactly h² = 1e-6; float32 rounding adds ~1e-4.
    expectArraysClose(numeric, exact, { atol: 1e-3, rtol: 1e-3 });
  });

  it('honours the step h: a large h shows the h² truncation error of x³', () => {
    const { numeric } = gradientPair(cube, [1], [1], { h: 0.5 });
    // ((1.5)³ − (0.5)³) / 1 = 3.25 = 3x² + h².
    expectArraysClose(numeric, [3.25], { atol: 1e-5, rtol: 0 });
  });

  it('exposes a wrong gradient: the pair is not close when the custom gradient is off by 2×', () => {
    // d/dx Σx² is 2x; this gradient claims 4x.
    const wrong = tf.customGrad((x) => {
      const input = x as tf.Tensor;
      return { value: tf.sum(tf.square(input)), gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.mul(input, 4)) };
    });
    const { analytic, numeric } = gradientPair((x) => wrong(x) as tf.Scalar, [1, 2], [2]);
    expectArraysClose(analytic, [4, 8]);
    expectArraysClose(numeric, [2, 4], { atol: 1e-3, rtol: 1e-3 });
    expect(() => expectArraysClose(analytic, numeric, { atol: 2e-3, rtol: 1e-2 })).toThrow(
      /index 0: got 4, expected [\d.]+ \(±0\.02\d*\)/,
    );
  });

  it('rejects x0 that does not fill shape, naming both', () => {
    const err = caught(() => gradientPair(cube, [1, 2, 3], [2, 2]));
    expect(err).toBeInstanceOf(RuntimeArgumentError);
    expect((err as Error).message).toMatch(/x0 has length 3 but shape \[2, 2\] holds 4 values/);
  });

  it('rejects a step h that is not a finite number > 0', () => {
    const err = caught(() => gradientPair(cube, [1], [1], { h: 0 }));
    expect(err).toBeInstanceOf(RuntimeArgumentError);
    expect((err as Error).message).toMatch(/h must be a finite number > 0, got 0/);
  });
});
