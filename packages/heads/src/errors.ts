/** Stable codes of {@link HeadError}. */
export type HeadErrorCode = 'E_HEAD_SHAPE' | 'E_HEAD_ARG' | 'E_HEAD_WEIGHTS' | 'E_HEAD_DISPOSED' | 'E_CALIBRATION';

/**
 * Error thrown by `@vqlm/heads` for a bad call. `code`:
 * - `E_HEAD_SHAPE`: an input tensor has the wrong rank or size (the message
 *   names the argument and both shapes);
 * - `E_HEAD_ARG`: a bad config or argument;
 * - `E_HEAD_WEIGHTS`: `setWeights` got a missing, unknown or misshapen tensor;
 * - `E_HEAD_DISPOSED`: the head was used after `dispose()`;
 * - `E_CALIBRATION`: a calibration cannot be fitted or parsed.
 */
export class HeadError extends Error {
  readonly code: HeadErrorCode;

  constructor(code: HeadErrorCode, message: string) {
    super(message);
    this.name = 'HeadError';
    this.code = code;
  }
}
