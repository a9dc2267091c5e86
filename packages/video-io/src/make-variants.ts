import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VideoIOError } from './errors.js';
import { runFfmpeg } from './ffmpeg-runner.js';
import { checkInputFile, outputUrl } from './input-path.js';
import { h264Ladder, recipeArgs, stepName } from './ladders.js';
import { probe } from './probe.js';
import type { MakeVariantsOptions, Variant } from './types.js';

/** Default time limit of one variant encode. */
export const DEFAULT_ENCODE_TIMEOUT_MS = 600_000;

/**
 * Writes one distorted copy of `src` per ladder step into `outDir`, named
 * `<source stem>.<step>.<ext>` (e.g. `clip.h264-crf23.mp4`). Each variant's
 * `recipe.ffmpegArgs` are the exact arguments used. A failed or aborted
 * encode removes its partial file.
 *
 * @param src a local video file
 * @returns one {@link Variant} per ladder step, in ladder order
 */
export async function makeVariants(src: string, options: MakeVariantsOptions): Promise<Variant[]> {
  if (!options || typeof options.outDir !== 'string' || options.outDir === '') {
    throw new VideoIOError('E_ARGUMENT', 'options.outDir must be a directory path');
  }
  const input = checkInputFile(src, 'src');
  const ladder = options.ladder ?? h264Ladder();
  if (!Array.isArray(ladder) || ladder.length === 0)
    throw new VideoIOError('E_ARGUMENT', 'options.ladder must be a non-empty array of steps');
  const info = await probe(input.path, { signal: options.signal, timeoutMs: options.timeoutMs });
  const outDir = resolve(options.outDir);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `cannot create outDir ${JSON.stringify(options.outDir)}: ${(err as Error).message}`,
    );
  }
  if (!statSync(outDir).isDirectory())
    throw new VideoIOError(
      'E_ARGUMENT',
      `outDir ${JSON.stringify(options.outDir)} is not a directory`,
    );
  const stem = (input.path.split('/').pop() ?? 'video').replace(/\.[^.]*$/, '') || 'video';
  const recipes = ladder.map((step) => ({ step, ...recipeArgs(step, info, options.preset) }));
  const variants: Variant[] = [];
  for (const { step, args, extension } of recipes) {
    const path = join(outDir, `${stem}.${stepName(step)}.${extension}`);
    try {
      await runFfmpeg({
        inputs: [{ source: input.url, options: ['-loglevel', 'error'] }],
        outputOptions: [...args, '-y'],
        output: outputUrl(path),
        timeoutMs: options.timeoutMs ?? DEFAULT_ENCODE_TIMEOUT_MS,
        signal: options.signal,
        label: JSON.stringify(src),
        failureCode: 'E_ENCODE',
      });
    } catch (err) {
      rmSync(path, { force: true });
      throw err;
    }
    const variant: Variant = { path, source: input.path, recipe: { ...step, ffmpegArgs: args } };
    variants.push(variant);
    options.onProgress?.({ done: variants.length, total: recipes.length, item: path });
  }
  return variants;
}
