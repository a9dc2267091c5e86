/**
 * Resolves JSON `path` inputs under the media root. Refused with 403: no media root configured,
 * absolute paths, any `..` segment, and paths that leave the root through a symbolic link.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { HttpError } from './errors.js';

export async function resolveMediaPath(root: string | undefined, field: string, value: unknown): Promise<string> {
  if (typeof value !== 'string' || value.length === 0) {
    throw new HttpError(400, 'E_BAD_REQUEST', `${field}: expected a non-empty path relative to the media root`);
  }
  const shown = JSON.stringify(value);
  if (root === undefined) throw new HttpError(403, 'E_FORBIDDEN_PATH', `${field}: path input is disabled (the server has no media root); upload the file instead`);
  if (value.includes('\0')) throw new HttpError(403, 'E_FORBIDDEN_PATH', `${field}: ${shown} contains a NUL byte`);
  if (isAbsolute(value) || /^[a-zA-Z]:/.test(value) || value.startsWith('\\')) {
    throw new HttpError(403, 'E_FORBIDDEN_PATH', `${field}: ${shown} is absolute; give a path relative to the media root`);
  }
  if (value.split(/[\\/]/).includes('..')) throw new HttpError(403, 'E_FORBIDDEN_PATH', `${field}: ${shown} contains a ".." segment`);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(realRoot, value));
  } catch {
    throw new HttpError(404, 'E_NOT_FOUND', `${field}: ${shown} does not exist under the media root`);
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep)) {
    throw new HttpError(403, 'E_FORBIDDEN_PATH', `${field}: ${shown} resolves outside the media root`);
  }
  return real;
}
