/**
 * Error thrown by `@vqlm/encoders`. `code` is stable and machine-readable:
 * - `E_SHAPE`: a tensor or frame batch has the wrong rank or sizes;
 * - `E_ARG`: a bad non-tensor argument (config value, option);
 * - `E_WEIGHTS`: a checkpoint lacks a tensor or holds one of the wrong shape;
 * - `E_ONNX_EXPORT`: a model cannot be written as ONNX;
 * - `E_DISPOSED`: a disposed encoder was used.
 */
export class EncoderError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EncoderError';
    this.code = code;
  }
}

/** One dimension of an expected shape: a fixed size, or a symbol (any size ≥ 1, or equal to other uses of the same symbol). */
export type DimSpec = number | string;

function formatShape(shape: readonly DimSpec[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks `actual` against `expected` (numbers are exact, strings are symbols
 * that must be ≥ 1 and agree between repeated uses). Throws `EncoderError`
 * (`E_SHAPE`) naming the argument and both shapes.
 * @returns the sizes bound to each symbol.
 */
export function checkShape(
  argument: string,
  actual: readonly number[],
  expected: readonly DimSpec[],
): Record<string, number> {
  const bound: Record<string, number> = {};
  const fail = (): never => {
    throw new EncoderError(
      'E_SHAPE',
      `${argument}: expected shape ${formatShape(expected)}, got ${formatShape(actual)}`,
    );
  };
  if (actual.length !== expected.length) fail();
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i];
    const got = actual[i];
    if (!Number.isInteger(got) || got < 1) fail();
    if (typeof want === 'number') {
      if (got !== want) fail();
    } else if (want in bound) {
      if (bound[want] !== got) fail();
    } else {
      bound[want] = got;
    }
  }
  return bound;
}

/** Throws `EncoderError` (`E_ARG`) unless `value` is an integer ≥ `min`. */
export function checkInteger(argument: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) {
    throw new EncoderError('E_ARG', `${argument}: expected an integer ≥ ${min}, got ${value}`);
  }
}
