/** Machine-readable codes carried by {@link DecoderError}. */
export type DecoderErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'MISSING_TENSOR'
  | 'TENSOR_SHAPE'
  | 'CHECKPOINT_NOT_FOUND'
  | 'ADAPTER_STATE'
  | 'TOKENIZER';

/** The error every public function of `@vqlm/decoder-lora` throws for a bad call or a bad file. */
export class DecoderError extends Error {
  override readonly name = 'DecoderError';
  readonly code: DecoderErrorCode;

  constructor(code: DecoderErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** `[2, 3]` → `'[2, 3]'` for error messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
