import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VideoIOError } from './errors.js';
import { runFfmpeg } from './ffmpeg-runner.js';
import { checkInputFile } from './input-path.js';
import { probe } from './probe.js';
import type {
  FullReferenceMetric,
  FullReferenceOptions,
  FullReferenceResult,
  MetricScores,
} from './types.js';

/** Default time limit of one full-reference run. */
export const DEFAULT_METRIC_TIMEOUT_MS = 600_000;
/** PSNR reported for identical frames (ffmpeg says `inf`). */
export const PSNR_CAP_DB = 100;

/** Escapes a value for a filter option inside a filtergraph (both ffmpeg escaping levels). */
export function escapeFilterValue(value: string): string {
  const optionLevel = value.replace(/[\\':]/g, (c) => `\\${c}`);
  return optionLevel.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

function scores(perFrame: number[]): MetricScores {
  const mean = perFrame.length ? perFrame.reduce((a, b) => a + b, 0) / perFrame.length : Number.NaN;
  return { mean, perFrame };
}

function parseStats(text: string, key: string): number[] {
  const values: number[] = [];
  const pattern = new RegExp(`\\b${key}:(\\S+)`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (!match) continue;
    const value = match[1] === 'inf' ? PSNR_CAP_DB : Number(match[1]);
    values.push(Math.min(PSNR_CAP_DB, value));
  }
  return values;
}

/**
 * Full-reference quality of `distorted` against `reference`, frame by frame,
 * straight from the files (any container/codec ffmpeg reads). Both are
 * brought to the reference's size (bicubic, when they differ), 8-bit 4:2:0,
 * timestamps from zero; frames are paired in order.
 *
 * PSNR: ffmpeg `psnr`, the Y/U/V average per frame (identical frames: 100 dB).
 * SSIM: ffmpeg `ssim`, the Y/U/V `All` value per frame. VMAF: libvmaf 1.x with
 * the model file `vmafModel` (e.g. `vmaf_v0.6.1.pkl`); skipped, and listed in
 * `skipped` with the reason, when no model is given.
 */
export async function fullReference(
  distorted: string,
  reference: string,
  options: FullReferenceOptions = {},
): Promise<FullReferenceResult> {
  const metrics: FullReferenceMetric[] = options.metrics ?? ['psnr', 'ssim', 'vmaf'];
  if (
    !Array.isArray(metrics) ||
    metrics.length === 0 ||
    metrics.some((m) => !['psnr', 'ssim', 'vmaf'].includes(m))
  ) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `options.metrics must be a non-empty list of 'psnr' | 'ssim' | 'vmaf', got ${JSON.stringify(metrics)}`,
    );
  }
  const dist = checkInputFile(distorted, 'distorted');
  const ref = checkInputFile(reference, 'reference');
  const skipped: string[] = [];
  const wanted = new Set(metrics);
  let model: string | undefined;
  if (wanted.has('vmaf')) {
    if (!options.vmafModel) {
      skipped.push(
        'vmaf: no model given (set vmafModel to a libvmaf 1.x model such as vmaf_v0.6.1.pkl)',
      );
      wanted.delete('vmaf');
    } else {
      model = resolve(options.vmafModel);
      if (!existsSync(model) || !statSync(model).isFile()) {
        throw new VideoIOError(
          'E_NOT_FOUND',
          `VMAF model not found: ${JSON.stringify(options.vmafModel)}`,
        );
      }
    }
  }
  const [refInfo] = await Promise.all([
    probe(ref.path, { signal: options.signal, timeoutMs: options.timeoutMs }),
    probe(dist.path, { signal: options.signal, timeoutMs: options.timeoutMs }),
  ]);
  const result: FullReferenceResult = { frames: 0 };
  if (skipped.length) result.skipped = skipped;
  const order = (['psnr', 'ssim', 'vmaf'] as const).filter((m) => wanted.has(m));
  if (order.length === 0) return result;

  const [height, width] =
    refInfo.rotation % 180 === 0
      ? [refInfo.height, refInfo.width]
      : [refInfo.width, refInfo.height];
  const dir = mkdtempSync(join(tmpdir(), 'vqlm-fr-'));
  try {
    const files = {
      psnr: join(dir, 'psnr.log'),
      ssim: join(dir, 'ssim.log'),
      vmaf: join(dir, 'vmaf.json'),
    };
    const prep = `scale=${width}:${height}:flags=bicubic,format=yuv420p,setpts=PTS-STARTPTS`;
    const graph: string[] = [
      `[0:v]${prep}[d0]`,
      `[1:v]format=yuv420p,setpts=PTS-STARTPTS,split=${order.length}${order.map((_, i) => `[r${i}]`).join('')}`,
    ];
    order.forEach((metric, i) => {
      const options =
        metric === 'vmaf'
          ? `libvmaf=model_path=${escapeFilterValue(model!)}:log_path=${escapeFilterValue(files.vmaf)}:log_fmt=json`
          : `${metric}=stats_file=${escapeFilterValue(files[metric])}`;
      graph.push(`[d${i}][r${i}]${options}${i < order.length - 1 ? `[d${i + 1}]` : ''}`);
    });
    await runFfmpeg({
      inputs: [
        { source: dist.url, options: ['-loglevel', 'error'] },
        { source: ref.url, options: [] },
      ],
      outputOptions: ['-filter_complex', graph.join(';'), '-f', 'null'],
      output: '-',
      timeoutMs: options.timeoutMs ?? DEFAULT_METRIC_TIMEOUT_MS,
      signal: options.signal,
      label: `${JSON.stringify(distorted)} vs ${JSON.stringify(reference)}`,
      failureCode: 'E_DECODE',
    });
    if (wanted.has('psnr'))
      result.psnr = scores(parseStats(readFileSync(files.psnr, 'utf8'), 'psnr_avg'));
    if (wanted.has('ssim'))
      result.ssim = scores(parseStats(readFileSync(files.ssim, 'utf8'), 'All'));
    if (wanted.has('vmaf')) {
      const log = JSON.parse(readFileSync(files.vmaf, 'utf8')) as {
        frames?: { metrics?: { vmaf?: number } }[];
      };
      result.vmaf = scores((log.frames ?? []).map((f) => Number(f.metrics?.vmaf)));
    }
    result.frames = (result.psnr ?? result.ssim ?? result.vmaf)?.perFrame.length ?? 0;
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
