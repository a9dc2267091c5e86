import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { VideoIOError } from './errors.js';

/** A checked input file: its absolute path and the URL handed to ffmpeg. */
export interface CheckedInput {
  path: string;
  /** `file:` + absolute path, so names like `concat:x`, `http://x`, `pipe:` or `-x` are never read as protocols or options. */
  url: string;
}

/**
 * Checks that `path` names a non-empty regular file and returns the form
 * ffmpeg must see. `argument` names the parameter in error messages.
 */
export function checkInputFile(path: unknown, argument = 'path'): CheckedInput {
  if (typeof path !== 'string' || path.length === 0) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `${argument} must be a non-empty string, got ${typeof path === 'string' ? '""' : typeof path}`,
    );
  }
  if (path.includes('\0'))
    throw new VideoIOError(
      'E_ARGUMENT',
      `${argument} contains a NUL byte: ${JSON.stringify(path)}`,
    );
  const absolute = resolve(path);
  let stats;
  try {
    stats = statSync(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new VideoIOError('E_NOT_FOUND', `file not found: ${JSON.stringify(path)}`);
    }
    throw new VideoIOError(
      'E_NOT_FOUND',
      `cannot access ${JSON.stringify(path)}: ${(err as Error).message}`,
    );
  }
  if (stats.isDirectory())
    throw new VideoIOError(
      'E_NOT_FILE',
      `${JSON.stringify(path)} is a directory, not a video file`,
    );
  if (!stats.isFile())
    throw new VideoIOError('E_NOT_FILE', `${JSON.stringify(path)} is not a regular file`);
  if (stats.size === 0)
    throw new VideoIOError('E_EMPTY', `${JSON.stringify(path)} is empty (0 bytes)`);
  return { path: absolute, url: `file:${absolute}` };
}

/** The ffmpeg URL for an output file (absolute, `file:` prefixed). */
export function outputUrl(path: string): string {
  return `file:${resolve(path)}`;
}
