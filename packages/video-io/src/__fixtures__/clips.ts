/**
 * Test and benchmark clips made on the fly with ffmpeg's lavfi sources.
 * Nothing here is downloaded; callers put the files in a temp dir and remove it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBinaries } from '../binaries.js';

export interface ClipSpec {
  width: number;
  height: number;
  /** Frames per second of the source. */
  rate?: number;
  /** Number of frames. */
  frames: number;
  /** `index`: solid grey with luma 16 + 4·n in frame n (read back with {@link greyIndex}); `testsrc2`: moving pattern. */
  pattern?: 'index' | 'testsrc2' | 'mandelbrot';
  /** Extra filters after the source (e.g. a VFR `setpts`). */
  filters?: string[];
  /** Pixel format of the `index` source (default yuv420p; use yuv444p for odd sizes). */
  sourceFormat?: string;
  /** Output arguments (codec etc.); default lossless x264 4:2:0. */
  encode?: string[];
}

export function ffmpegBin(): string {
  return resolveBinaries().ffmpeg;
}

/** Writes a clip to `path` and returns `path`. */
export function makeClip(path: string, spec: ClipSpec): string {
  const rate = spec.rate ?? 10;
  const duration = spec.frames / rate;
  const size = `${spec.width}x${spec.height}`;
  const source =
    spec.pattern === 'testsrc2'
      ? `testsrc2=size=${size}:rate=${rate}:duration=${duration}`
      : spec.pattern === 'mandelbrot'
        ? `mandelbrot=size=${size}:rate=${rate},trim=end_frame=${spec.frames}`
        : `color=c=black:size=${size}:rate=${rate}:duration=${duration},format=${spec.sourceFormat ?? 'yuv420p'},geq=lum='16+4*N':cb=128:cr=128`;
  const graph = [source, ...(spec.filters ?? [])].join(',');
  const encode = spec.encode ?? [
    '-c:v',
    'libx264',
    '-qp',
    '0',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
  ];
  execFileSync(
    ffmpegBin(),
    [
      '-v',
      'error',
      '-nostdin',
      '-y',
      '-f',
      'lavfi',
      '-i',
      graph,
      '-frames:v',
      String(spec.frames),
      ...encode,
      `file:${resolve(path)}`,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    },
  );
  return path;
}

/** Stream-copies `path` into `out` with a display rotation tag (clockwise degrees). */
export function rotateTag(path: string, out: string, clockwise: number): string {
  execFileSync(
    ffmpegBin(),
    [
      '-v',
      'error',
      '-nostdin',
      '-y',
      '-i',
      `file:${resolve(path)}`,
      '-c',
      'copy',
      '-metadata:s:v:0',
      `rotate=${clockwise}`,
      `file:${resolve(out)}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
  return out;
}

/** Reads back the frame index an `index` clip encodes in frame `j` of an RGB `[M, H, W, 3]` batch. */
export function greyIndex(frames: Uint8Array, frameBytes: number, j: number): number {
  let sum = 0;
  for (let i = j * frameBytes; i < (j + 1) * frameBytes; i++) sum += frames[i];
  const mean = sum / frameBytes; // RGB ≈ (Y − 16) · 255 / 219
  return Math.round(mean / ((4 * 255) / 219));
}

/** PIDs of this process's live child processes (Linux; empty elsewhere). */
export function childPids(): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${process.pid}/task`)) {
      const text = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // not Linux
  }
  return pids;
}

/** The VMAF model beside the checkout (`<repo>/../shared/vmaf/vmaf_v0.6.1.pkl`). */
export const vmafModelPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../../shared/vmaf/vmaf_v0.6.1.pkl',
);

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)));
