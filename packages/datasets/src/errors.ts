/** Machine-readable codes of {@link DatasetError}. */
export type DatasetErrorCode =
  | 'E_ARGUMENT'
  | 'E_LABEL_HEADER'
  | 'E_LABEL_NUMBER'
  | 'E_LABEL_DUPLICATE'
  | 'E_LABEL_SCALE'
  | 'E_LABEL_PATH'
  | 'E_LABEL_FORMAT'
  | 'E_UNKNOWN_LOADER'
  | 'E_MANIFEST'
  | 'E_SPLIT_LEAK'
  | 'E_SAMPLER_STATE'
  | 'E_ABORTED'
  | 'E_CORPUS';

/**
 * Every error thrown by `@vqlm/datasets`. `code` is stable; the message names
 * the argument or the file and line that is wrong.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  constructor(
    readonly code: DatasetErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Error for a bad line in a label or manifest file: `file:line: message`. */
export function lineError(code: DatasetErrorCode, file: string, line: number, message: string): DatasetError {
  return new DatasetError(code, `${file}:${line}: ${message}`);
}
