/**
 * Why a metric refused its input. Every bad call in `@vqlm/metrics` throws a
 * {@link MetricError} with one of these codes; no function returns a silent
 * `NaN`.
 */
export type MetricErrorCode =
  /** Two arrays that must be paired have different lengths. */
  | 'E_LENGTH_MISMATCH'
  /** Fewer points than the metric needs (3 for correlations and fits). */
  | 'E_TOO_FEW_POINTS'
  /** A value is `NaN`, `±Infinity` or not a number. */
  | 'E_NOT_FINITE'
  /** A vector is constant, so a correlation (or a fit) is undefined. */
  | 'E_CONSTANT'
  /** The logistic fit did not converge (or left the finite numbers). */
  | 'E_FIT_NOT_CONVERGED'
  /** An option is out of its range or of the wrong kind. */
  | 'E_INVALID_ARGUMENT'
  /** `flipRate` found no pair of variants with different levels to compare. */
  | 'E_NO_PAIRS';

/** A typed error with a string `code`; the message says what and where. */
export class MetricError extends Error {
  override readonly name = 'MetricError';
  constructor(
    readonly code: MetricErrorCode,
    message: string,
  ) {
    super(message);
  }
}
