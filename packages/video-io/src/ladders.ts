import { VideoIOError } from './errors.js';
import type { LadderStep, VideoInfo } from './types.js';

/** An inclusive arithmetic range `from, from+step, ..., ≤ to`. */
export interface RangeSpec {
  from: number;
  to: number;
  step: number;
}

function range({ from, to, step }: RangeSpec, name: string): number[] {
  if (![from, to, step].every(Number.isFinite) || step <= 0 || to < from) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `${name}: need finite from ≤ to and step > 0, got from=${from} to=${to} step=${step}`,
    );
  }
  const values: number[] = [];
  for (let v = from; v <= to + 1e-9; v += step) values.push(Math.round(v * 1e6) / 1e6);
  return values;
}

/**
 * H.264 (libx264) CRF ladder; the default is CP-LLM's 20 levels 15..53 step 2.
 * Note: 8-bit x264 clamps CRF to 51, so CRF 53 encodes exactly like 51.
 */
export function h264Ladder(spec: RangeSpec = { from: 15, to: 53, step: 2 }): LadderStep[] {
  return range(spec, 'h264Ladder').map((crf) => {
    if (crf < 0 || crf > 63)
      throw new VideoIOError('E_ARGUMENT', `h264Ladder: CRF must lie in 0..63, got ${crf}`);
    return { kind: 'h264', crf };
  });
}

/** VP9 (libvpx-vp9, constant quality `-b:v 0`) CRF ladder, CRF in 0..63. */
export function vp9Ladder(spec: RangeSpec = { from: 15, to: 63, step: 8 }): LadderStep[] {
  return range(spec, 'vp9Ladder').map((crf) => {
    if (crf < 0 || crf > 63)
      throw new VideoIOError('E_ARGUMENT', `vp9Ladder: CRF must lie in 0..63, got ${crf}`);
    return { kind: 'vp9', crf };
  });
}

/** Gaussian blur ladder (ffmpeg `gblur`, sigma in pixels, > 0). */
export function blurLadder(sigmas: number[] = [0.5, 1, 2, 4]): LadderStep[] {
  return sigmas.map((sigma) => {
    if (!(sigma > 0 && sigma <= 1024))
      throw new VideoIOError('E_ARGUMENT', `blurLadder: sigma must lie in (0, 1024], got ${sigma}`);
    return { kind: 'blur', sigma };
  });
}

/** Additive noise ladder (ffmpeg `noise`, temporal uniform noise, strength 1..100, fixed seed). */
export function noiseLadder(strengths: number[] = [5, 10, 20, 40]): LadderStep[] {
  return strengths.map((strength) => {
    if (!(Number.isInteger(strength) && strength >= 1 && strength <= 100)) {
      throw new VideoIOError(
        'E_ARGUMENT',
        `noiseLadder: strength must be an integer in 1..100, got ${strength}`,
      );
    }
    return { kind: 'noise', strength };
  });
}

/** Down-and-up scaling ladder: bicubic down by `factor` in (0, 1), then back up to the source size. */
export function scaleLadder(factors: number[] = [0.75, 0.5, 0.25]): LadderStep[] {
  return factors.map((factor) => {
    if (!(factor > 0 && factor < 1))
      throw new VideoIOError('E_ARGUMENT', `scaleLadder: factor must lie in (0, 1), got ${factor}`);
    return { kind: 'scale', factor };
  });
}

/** Fixed seed of the noise filter, so a noise variant is reproducible. */
export const NOISE_SEED = 20250521;

const lossless = ['-c:v', 'libx264', '-qp', '0', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'];

/**
 * The exact ffmpeg arguments (between input and output) for one step, and
 * the output file extension. Frames map 1:1 to the source (`-vsync
 * passthrough`), audio is dropped, and output is 8-bit 4:2:0. Filtered
 * variants (blur, noise, scale) are stored losslessly (x264 `-qp 0`), so the
 * only distortion is the filter's.
 */
export function recipeArgs(
  step: LadderStep,
  info: Pick<VideoInfo, 'width' | 'height' | 'rotation'>,
  preset?: string,
): { args: string[]; extension: string } {
  const common = ['-map', '0:v:0', '-an', '-sn', '-dn', '-vsync', 'passthrough'];
  // ffmpeg applies the display rotation before these filters
  const [height, width] =
    info.rotation % 180 === 0 ? [info.height, info.width] : [info.width, info.height];
  switch (step.kind) {
    case 'h264':
      return {
        args: [
          ...common,
          '-c:v',
          'libx264',
          '-preset',
          preset ?? 'medium',
          '-crf',
          String(step.crf),
          '-pix_fmt',
          'yuv420p',
        ],
        extension: 'mp4',
      };
    case 'vp9':
      return {
        args: [
          ...common,
          '-c:v',
          'libvpx-vp9',
          '-crf',
          String(step.crf),
          '-b:v',
          '0',
          '-deadline',
          preset ?? 'good',
          '-cpu-used',
          '4',
          '-row-mt',
          '1',
          '-pix_fmt',
          'yuv420p',
        ],
        extension: 'webm',
      };
    case 'blur':
      return {
        args: [...common, '-vf', `gblur=sigma=${step.sigma}`, ...lossless],
        extension: 'mp4',
      };
    case 'noise':
      return {
        args: [
          ...common,
          '-vf',
          `noise=alls=${step.strength}:allf=t+u:all_seed=${NOISE_SEED}`,
          ...lossless,
        ],
        extension: 'mp4',
      };
    case 'scale': {
      const even = (v: number): number => Math.max(2, 2 * Math.round(v / 2));
      const smallW = even(width * step.factor!);
      const smallH = even(height * step.factor!);
      return {
        args: [
          ...common,
          '-vf',
          `scale=${smallW}:${smallH}:flags=bicubic,scale=${even(width)}:${even(height)}:flags=bicubic`,
          ...lossless,
        ],
        extension: 'mp4',
      };
    }
    default:
      throw new VideoIOError(
        'E_ARGUMENT',
        `unknown distortion kind ${JSON.stringify((step as { kind: unknown }).kind)}`,
      );
  }
}

/** A file-name stem for a step, e.g. `h264-crf23`, `blur-s1.5`. */
export function stepName(step: LadderStep): string {
  switch (step.kind) {
    case 'h264':
    case 'vp9':
      return `${step.kind}-crf${step.crf}`;
    case 'blur':
      return `blur-s${step.sigma}`;
    case 'noise':
      return `noise-n${step.strength}`;
    case 'scale':
      return `scale-f${step.factor}`;
    default:
      return 'variant';
  }
}
