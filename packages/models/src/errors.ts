/** Codes of {@link ModelError}. */
export type ModelErrorCode =
  /** A bad argument or shape at a public function. */
  | 'E_MODEL_ARG'
  /** A model config that does not validate. */
  | 'E_MODEL_CONFIG'
  /** A bundle's `model.json` is missing, unreadable or invalid. */
  | 'E_BUNDLE_CONFIG'
  /** A bundle lacks a tensor, has an unexpected one, or one of the wrong shape. */
  | 'E_BUNDLE_TENSOR'
  /** A bundle file is missing or cannot be read or written. */
  | 'E_BUNDLE_IO'
  /** The model or scorer was used after `dispose()`. */
  | 'E_DISPOSED';

/** Every error of `@vqlm/models`; `code` tells them apart, the message names the argument, field or tensor. */
export class ModelError extends Error {
  readonly code: ModelErrorCode;

  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelError';
    this.code = code;
  }
}

/** `[a, b, c]` for messages. */
export function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}
