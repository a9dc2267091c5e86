import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { resolveBinaries } from '@vqlm/video-io';

/**
 * Writes a small moving test pattern (`testsrc2`, or `mandelbrot`) as a
 * near-lossless H.264 mp4, for tests only. Nothing is downloaded.
 */
export function makeClip(path: string, { width = 128, height = 72, rate = 10, seconds = 2, pattern = 'testsrc2' } = {}): string {
  const frames = Math.round(rate * seconds);
  const source =
    pattern === 'mandelbrot'
      ? `mandelbrot=size=${width}x${height}:rate=${rate}`
      : `testsrc2=size=${width}x${height}:rate=${rate}:duration=${seconds}`;
  execFileSync(
    resolveBinaries().ffmpeg,
    ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', source, '-frames:v', String(frames), '-c:v', 'libx264', '-crf', '5', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', `file:${resolve(path)}`],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
  return path;
}
