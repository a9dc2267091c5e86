import { rmSync } from 'node:fs';
import { VideoIOError } from './errors.js';
import { runFfmpeg } from './ffmpeg-runner.js';
import { checkInputFile, outputUrl } from './input-path.js';
import type { CutSegmentOptions } from './types.js';
import { DEFAULT_ENCODE_TIMEOUT_MS } from './make-variants.js';

/**
 * Cuts `[start, start + duration)` seconds of `src` into `out`, video only.
 *
 * `mode: 'reencode'` (default) is frame-exact: accurate input seek, then
 * x264 at CRF 10 (`-preset veryfast`, 4:2:0 8-bit), visually lossless, so
 * the segment can serve as the reference of its own distortion ladder.
 * `mode: 'copy'` stream-copies: bit-exact but starts at the key frame at or
 * before `start`.
 *
 * @returns the absolute path written
 */
export async function cutSegment(src: string, options: CutSegmentOptions): Promise<string> {
  const input = checkInputFile(src, 'src');
  const { start, duration, out } = options ?? ({} as CutSegmentOptions);
  if (!(Number.isFinite(start) && start >= 0))
    throw new VideoIOError('E_ARGUMENT', `options.start must be ≥ 0 seconds, got ${start}`);
  if (!(Number.isFinite(duration) && duration > 0))
    throw new VideoIOError('E_ARGUMENT', `options.duration must be > 0 seconds, got ${duration}`);
  if (typeof out !== 'string' || out === '')
    throw new VideoIOError('E_ARGUMENT', 'options.out must be a file path');
  const mode = options.mode ?? 'reencode';
  const codec =
    mode === 'copy'
      ? ['-c:v', 'copy']
      : mode === 'reencode'
        ? ['-c:v', 'libx264', '-crf', '10', '-preset', 'veryfast', '-pix_fmt', 'yuv420p']
        : undefined;
  if (!codec)
    throw new VideoIOError(
      'E_ARGUMENT',
      `options.mode must be 'reencode' or 'copy', got ${JSON.stringify(mode)}`,
    );
  const target = outputUrl(out);
  try {
    await runFfmpeg({
      inputs: [{ source: input.url, options: ['-loglevel', 'error', '-ss', start.toFixed(6)] }],
      outputOptions: [
        '-t',
        duration.toFixed(6),
        '-map',
        '0:v:0',
        '-an',
        '-sn',
        '-dn',
        ...codec,
        '-avoid_negative_ts',
        'make_zero',
        '-y',
      ],
      output: target,
      timeoutMs: options.timeoutMs ?? DEFAULT_ENCODE_TIMEOUT_MS,
      signal: options.signal,
      label: JSON.stringify(src),
      failureCode: 'E_ENCODE',
    });
  } catch (err) {
    rmSync(target.slice('file:'.length), { force: true });
    throw err;
  }
  return target.slice('file:'.length);
}
