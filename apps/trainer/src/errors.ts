/** Codes of {@link TrainerError}. */
export type TrainerErrorCode =
  /** The config file is missing, not JSON, or does not validate. */
  | 'E_CONFIG'
  /** The manifest or a video it names cannot be used. */
  | 'E_DATA'
  /** A checkpoint is missing, unreadable, or belongs to another run. */
  | 'E_CHECKPOINT'
  /** A split needed for training or evaluation is empty. */
  | 'E_SPLIT'
  /** An ablation cannot be summarised (unknown baseline, different item sets). */
  | 'E_ABLATION'
  /** A plot cannot be written (unknown file type). */
  | 'E_PLOT'
  /** An ensemble member trained in a child process failed (the message names its run directory). */
  | 'E_MEMBER';

/** Every error of the trainer; `code` tells them apart, the message names the field, file or step. */
export class TrainerError extends Error {
  readonly code: TrainerErrorCode;

  constructor(code: TrainerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrainerError';
    this.code = code;
  }
}
