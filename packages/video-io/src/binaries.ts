import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The ffmpeg and ffprobe executables video-io runs, and where each came from. */
export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
  /** `env` (VQLM_FFMPEG / VQLM_FFPROBE), `bundled` (npm installer packages) or `path` (looked up on PATH). */
  ffmpegSource: 'env' | 'bundled' | 'path';
  ffprobeSource: 'env' | 'bundled' | 'path';
}

function executable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function bundled(moduleName: string): string | undefined {
  try {
    const mod = require(moduleName) as { path?: unknown };
    return typeof mod.path === 'string' && executable(mod.path) ? mod.path : undefined;
  } catch {
    // unsupported platform: the installer package throws on require
    return undefined;
  }
}

function resolveOne(
  envName: string,
  moduleName: string,
  command: string,
): { path: string; source: 'env' | 'bundled' | 'path' } {
  const fromEnv = process.env[envName];
  if (fromEnv) return { path: fromEnv, source: 'env' };
  const fromPackage = bundled(moduleName);
  if (fromPackage) return { path: fromPackage, source: 'bundled' };
  return { path: command, source: 'path' };
}

/**
 * Resolves the binaries, in this order: the `VQLM_FFMPEG` / `VQLM_FFPROBE`
 * environment variables, the binaries shipped by `@ffmpeg-installer/ffmpeg`
 * and `@ffprobe-installer/ffprobe`, then `ffmpeg` / `ffprobe` on `PATH`.
 * Read on every call, so changing the environment takes effect at once.
 */
export function resolveBinaries(): FfmpegBinaries {
  const ffmpeg = resolveOne('VQLM_FFMPEG', '@ffmpeg-installer/ffmpeg', 'ffmpeg');
  const ffprobe = resolveOne('VQLM_FFPROBE', '@ffprobe-installer/ffprobe', 'ffprobe');
  return {
    ffmpeg: ffmpeg.path,
    ffprobe: ffprobe.path,
    ffmpegSource: ffmpeg.source,
    ffprobeSource: ffprobe.source,
  };
}
