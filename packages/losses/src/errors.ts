/**
 * Error thrown by every `@vqlm/losses` function for a bad call. `code` is a
 * stable string callers can branch on:
 * - `E_LOSS_SHAPE`: a tensor has the wrong rank or size (the message names the
 *   argument, the expected shape and the shape it got);
 * - `E_LOSS_DTYPE`: a tensor has the wrong dtype;
 * - `E_LOSS_ARG`: any other bad argument (unknown loss name, negative weight,
 *   target id out of range, ...).
 */
export class LossError extends Error {
  readonly code: 'E_LOSS_SHAPE' | 'E_LOSS_DTYPE' | 'E_LOSS_ARG';

  constructor(code: 'E_LOSS_SHAPE' | 'E_LOSS_DTYPE' | 'E_LOSS_ARG', message: string) {
    super(message);
    this.name = 'LossError';
    this.code = code;
  }
}
