/**
 * Shared harness for the CLI tests: runs `main()` in-process with stdout and
 * stderr captured, makes and removes temp dirs, and writes tiny ffmpeg clips.
 * Nothing here is downloaded; callers remove what they create.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { resolveBinaries } from '@vqlm/video-io';
import { main } from '../main.js';

export interface CliResult {
  /** Exit code returned by `main()`. */
  code: number;
  /** Everything written to `process.stdout` during the run. */
  stdout: string;
  /** Everything written to `process.stderr` during the run. */
  stderr: string;
}

/** Runs `vqlm <args>` in-process and returns its exit code and captured output. */
export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'vqlm', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

/** Path under the `shared/` folder that sits beside the repository checkout. */
export function sharedPath(...parts: string[]): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..', 'shared', ...parts);
}

/** Creates a fresh temp dir named `vqlm-cli-<name>-XXXXXX`. */
export function makeTempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `vqlm-cli-${name}-`));
}

/** Removes a dir made by {@link makeTempDir} (no error if it is gone). */
export function removeTempDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Writes a tiny x264 clip of ffmpeg's `testsrc2` pattern at 10 fps to `path` and returns `path`. */
export function makeTestClip(path: string, width = 64, height = 48, frames = 10): string {
  execFileSync(resolveBinaries().ffmpeg, [
    '-v',
    'error',
    '-nostdin',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=10`,
    '-frames:v',
    String(frames),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    `file:${path}`,
  ]);
  return path;
}
