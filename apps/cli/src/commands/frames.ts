import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  contextView,
  pixelView,
  sampleKeyFrames,
  writePng,
  type FrameTensor,
} from '@vqlm/video-io';
import { CliError } from '../cli-error.js';
import type { CommandModule } from '../command.js';
import { createProgress, printJson } from '../output.js';

interface FramesFlags {
  m: string;
  view: string;
  out: string;
  size: string;
  k: string;
  strategy: string;
  json?: boolean;
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`${flag} must be a positive integer, got '${value}'`, 'E_ARGUMENT');
  return n;
}

/** Writes each [H, W, 3] image of `tensor` (shape [M, H, W, 3] or [M, K, H, W, 3]) as a PNG. */
function writeImages(
  tensor: FrameTensor,
  out: string,
  name: (index: number[]) => string,
): string[] {
  const [height, width] = tensor.shape.slice(-3);
  const bytes = height * width * 3;
  const outer = tensor.shape.slice(0, -3);
  const count = outer.reduce((a, b) => a * b, 1);
  const progress = createProgress(count, 'frames');
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const index = outer.length === 1 ? [i] : [Math.floor(i / outer[1]), i % outer[1]];
    const file = join(out, name(index));
    writePng(file, tensor.frames.subarray(i * bytes, (i + 1) * bytes), height, width);
    files.push(file);
    progress.increment(1, file);
  }
  progress.stop();
  return files;
}

/** `vqlm frames <video>`: the M key frames, or their CP-LLM context / pixel views, as PNGs. */
export const framesCommand: CommandModule = {
  name: 'frames',
  register(program: Command): void {
    program
      .command('frames')
      .description(
        'write the M key frames of a video as PNGs: the CP-LLM context view, pixel-view patches, or the decoded frames',
      )
      .argument('<video>', 'video file')
      .option('--m <count>', 'number of key frames M', '8')
      .option(
        '--view <view>',
        'context (448×448), pixel (K patches of 224×224) or raw (decoded frames)',
        'context',
      )
      .option('--size <pixels>', 'context view size', '448')
      .option('--k <count>', 'pixel view patches per frame K', '8')
      .option(
        '--strategy <strategy>',
        'select (one decoding pass) or seek (M accurate seeks)',
        'select',
      )
      .requiredOption('--out <dir>', 'directory for the PNG files (created if missing)')
      .option('--json', 'print {"frames","shape","indices","files"} as JSON')
      .action(async (video: string, flags: FramesFlags) => {
        const m = positiveInteger(flags.m, '--m');
        if (!['context', 'pixel', 'raw'].includes(flags.view)) {
          throw new CliError(
            `--view must be context, pixel or raw, got '${flags.view}'`,
            'E_ARGUMENT',
          );
        }
        if (flags.strategy !== 'select' && flags.strategy !== 'seek') {
          throw new CliError(
            `--strategy must be select or seek, got '${flags.strategy}'`,
            'E_ARGUMENT',
          );
        }
        const controller = new AbortController();
        const onSigint = (): void => controller.abort();
        process.once('SIGINT', onSigint);
        try {
          const keyFrames = await sampleKeyFrames(video, {
            m,
            strategy: flags.strategy,
            signal: controller.signal,
          });
          const tensor =
            flags.view === 'context'
              ? contextView(keyFrames, { size: positiveInteger(flags.size, '--size') })
              : flags.view === 'pixel'
                ? pixelView(keyFrames, { k: positiveInteger(flags.k, '--k') })
                : keyFrames;
          mkdirSync(flags.out, { recursive: true });
          const pad = (n: number): string => String(n).padStart(3, '0');
          const files = writeImages(tensor, flags.out, (index) =>
            index.length === 1
              ? `${flags.view}-${pad(index[0])}.png`
              : `${flags.view}-${pad(index[0])}-patch-${pad(index[1])}.png`,
          );
          if (flags.json)
            printJson({ frames: m, shape: tensor.shape, indices: keyFrames.indices, files });
          else
            process.stdout.write(
              `wrote ${files.length} PNG files of shape [${tensor.shape.join(', ')}] to ${flags.out}\n`,
            );
        } finally {
          process.removeListener('SIGINT', onSigint);
        }
      });
  },
};
