/**
 * Machine-readable reasons a video-io call fails. Every error thrown by this
 * package is a {@link VideoIOError} with one of these codes.
 */
export type VideoIOErrorCode =
  | 'E_ARGUMENT' // a bad option or argument (not about a file)
  | 'E_SHAPE' // a tensor argument with the wrong shape
  | 'E_NOT_FOUND' // the path does not exist
  | 'E_NOT_FILE' // the path is a directory or another non-regular file
  | 'E_EMPTY' // the file has zero bytes
  | 'E_NOT_VIDEO' // ffprobe cannot read the file as media
  | 'E_NO_VIDEO' // media without a video stream (e.g. audio only)
  | 'E_DIMENSIONS' // absurd or unsupported frame size
  | 'E_DECODE' // the video stream cannot be decoded (corrupt, truncated, unknown codec)
  | 'E_ENCODE' // an ffmpeg encode or filter run failed
  | 'E_TIMEOUT' // an ffmpeg/ffprobe run exceeded its time limit and was killed
  | 'E_ABORTED' // the caller's AbortSignal fired; the process was killed
  | 'E_BINARY'; // no usable ffmpeg/ffprobe binary

/** The single error class of `@vqlm/video-io`; `code` says why. */
export class VideoIOError extends Error {
  override readonly name = 'VideoIOError';
  constructor(
    readonly code: VideoIOErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
